// Dashboard template variables: interpolation of `$var`, `${var}`, `${var:format}`, `[[var]]`
// and the built-ins `$__interval`, `$__rate_interval`, `$__range`, ... into queries.

import { formatInterval } from "./time";

export const ALL = "$__all";

export interface VariableValue {
  /** Selected values (ALL when "All" is selected). */
  values: string[];
  /** All options, used when "All" is selected without an allValue. */
  options: string[];
  multi: boolean;
  includeAll: boolean;
  allValue?: string | null;
}

export type VariableValues = Record<string, VariableValue>;

/** Escape regex metacharacters for use inside a PromQL string literal, as Grafana's Prometheus
 * data source does for multi values: `a.b` becomes `a\\.b` (the string unescapes to `a\.b`). */
export function escapeRegex(v: string): string {
  return v.replace(/\\/g, "\\\\\\\\").replace(/[$^*+?.()|{}[\]'"]/g, "\\\\$&");
}

/** Escape a single value placed inside a PromQL string literal. */
export function escapePromString(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

function selected(v: VariableValue): { values: string[]; all: boolean } {
  const all = v.values.includes(ALL);
  if (all) return { values: v.options.filter((o) => o !== ALL), all: true };
  return { values: v.values, all: false };
}

/** The text a variable becomes in a query, by Grafana's formats (default: Prometheus regex). */
export function formatVariable(v: VariableValue, format?: string): string {
  const { values, all } = selected(v);
  if (all && v.allValue !== undefined && v.allValue !== null && v.allValue !== "" && !format) return v.allValue;
  switch (format) {
    case "raw":
    case "text":
      return values.join(",");
    case "csv":
      return values.join(",");
    case "pipe":
      return values.join("|");
    case "json":
      return JSON.stringify(values);
    case "glob":
      return values.length > 1 ? `{${values.join(",")}}` : (values[0] ?? "");
    case "queryparam":
      return values.map((x) => `var=${encodeURIComponent(x)}`).join("&");
    case "regex":
      return values.length > 1 ? `(${values.map(escapeRegex).join("|")})` : escapeRegex(values[0] ?? "");
    default:
      break;
  }
  if (!v.multi && !v.includeAll) return escapePromString(values[0] ?? "");
  if (values.length === 0) return "";
  if (values.length === 1) return escapeRegex(values[0]);
  return `(${values.map(escapeRegex).join("|")})`;
}

export interface Builtins {
  intervalMs: number;
  rateIntervalMs: number;
  rangeMs: number;
  fromMs: number;
  toMs: number;
}

/** Grafana's `$__rate_interval`: max(interval + scrape interval, 4 x scrape interval). */
export function rateInterval(intervalMs: number, scrapeIntervalMs = 15_000): number {
  return Math.max(intervalMs + scrapeIntervalMs, 4 * scrapeIntervalMs);
}

/** Grafana's `$__interval`: range / max data points, rounded to a nice value, at least minInterval. */
export function computeInterval(rangeMs: number, maxDataPoints: number, minIntervalMs = 0): number {
  const raw = rangeMs / Math.max(1, maxDataPoints);
  const nice = [
    10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000, 300_000,
    600_000, 900_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
    86_400_000, 604_800_000, 2_592_000_000, 31_536_000_000,
  ];
  const rounded = nice.find((n) => n >= raw) ?? raw;
  return Math.max(rounded, minIntervalMs);
}

function builtinValue(name: string, b: Builtins): string | undefined {
  switch (name) {
    case "__interval":
      return formatInterval(b.intervalMs);
    case "__interval_ms":
      return String(Math.round(b.intervalMs));
    case "__rate_interval":
      return formatInterval(b.rateIntervalMs);
    case "__rate_interval_ms":
      return String(Math.round(b.rateIntervalMs));
    case "__range":
      return `${Math.round(b.rangeMs / 1000)}s`;
    case "__range_s":
      return String(Math.round(b.rangeMs / 1000));
    case "__range_ms":
      return String(Math.round(b.rangeMs));
    case "__from":
      return String(Math.round(b.fromMs));
    case "__to":
      return String(Math.round(b.toMs));
    default:
      return undefined;
  }
}

const VAR_RE = /\$(\w+)|\$\{(\w+)(?::([\w]+))?(?:\.[\w]+)?\}|\[\[(\w+)(?::(\w+))?\]\]/g;

/** Replace variable references in `text`; unknown names are left as written. */
export function interpolate(text: string, vars: VariableValues, builtins?: Builtins, forceFormat?: string): string {
  return text.replace(VAR_RE, (whole, a?: string, b?: string, fmtB?: string, c?: string, fmtC?: string) => {
    const name = a ?? b ?? c ?? "";
    const fmt = fmtB ?? fmtC ?? forceFormat;
    if (name.startsWith("__") && builtins) {
      const v = builtinValue(name, builtins);
      if (v !== undefined) return v;
    }
    const v = vars[name];
    if (!v) return whole;
    return formatVariable(v, fmt);
  });
}

/** Names of the variables `text` refers to (for dependency ordering). */
export function referencedVariables(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(VAR_RE)) {
    const name = m[1] ?? m[2] ?? m[4];
    if (name && !name.startsWith("__")) out.add(name);
  }
  return [...out];
}

export type VariableQuery =
  | { kind: "label_values"; match?: string; label: string }
  | { kind: "label_names"; match?: string }
  | { kind: "metrics"; regex: string }
  | { kind: "query_result"; expr: string }
  | { kind: "invalid"; text: string };

/** Parse a Prometheus variable query (`label_values(up{job="x"}, instance)` and friends). */
export function parseVariableQuery(raw: unknown): VariableQuery {
  let text = "";
  if (typeof raw === "string") text = raw;
  else if (raw && typeof raw === "object") {
    const o = raw as Record<string, unknown>;
    if (typeof o.query === "string") text = o.query;
    else if (o.qryType === 1 && typeof o.label === "string") {
      return { kind: "label_values", label: o.label, match: typeof o.metric === "string" ? o.metric : undefined };
    }
  }
  text = text.trim();
  let m = /^label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][\w]*)\s*\)\s*$/s.exec(text);
  if (m) return { kind: "label_values", match: m[1] || undefined, label: m[2] };
  m = /^label_names\(\s*(.*?)\s*\)\s*$/s.exec(text);
  if (m) return { kind: "label_names", match: m[1] || undefined };
  m = /^metrics\(\s*(.*?)\s*\)\s*$/s.exec(text);
  if (m) return { kind: "metrics", regex: m[1] };
  m = /^query_result\(\s*(.*)\s*\)\s*$/s.exec(text);
  if (m) return { kind: "query_result", expr: m[1] };
  return { kind: "invalid", text };
}

/** Apply a variable's `regex` option: keep matches; a capture group (or `text`/`value` named
 * groups) picks the shown value. */
export function applyRegex(values: string[], regex: string | undefined): string[] {
  if (!regex) return values;
  let re: RegExp;
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex);
  try {
    re = m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(regex);
  } catch {
    return values;
  }
  const out: string[] = [];
  for (const v of values) {
    const r = re.exec(v);
    if (!r) continue;
    const picked = r.groups?.value ?? r.groups?.text ?? r[1] ?? r[0];
    if (picked !== undefined && !out.includes(picked)) out.push(picked);
  }
  return out;
}

/** Grafana's variable `sort` option. */
export function sortValues(values: string[], sort: number | undefined): string[] {
  const out = [...values];
  const num = (s: string) => {
    const m = /-?\d+(\.\d+)?/.exec(s);
    return m ? parseFloat(m[0]) : NaN;
  };
  switch (sort) {
    case 1:
      return out.sort((a, b) => a.localeCompare(b));
    case 2:
      return out.sort((a, b) => b.localeCompare(a));
    case 3:
      return out.sort((a, b) => num(a) - num(b));
    case 4:
      return out.sort((a, b) => num(b) - num(a));
    case 5:
      return out.sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
    case 6:
      return out.sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase()));
    default:
      return out;
  }
}

/** Options of a custom variable: `a, b, c` or `key : value` pairs (the value is used). */
export function customOptions(query: string): Array<{ text: string; value: string }> {
  const parts = query.match(/(?:\\,|[^,])+/g) ?? [];
  return parts
    .map((p) => p.trim().replace(/\\,/g, ","))
    .filter((p) => p !== "")
    .map((p) => {
      const kv = /^(.+?)\s+:\s+(.+)$/.exec(p);
      return kv ? { text: kv[1], value: kv[2] } : { text: p, value: p };
    });
}

/** Legend text from Grafana's legendFormat (`{{instance}} {{mode}}`). */
export function formatLegend(format: string | undefined, labels: Record<string, string>): string {
  if (!format || format === "__auto") return seriesName(labels);
  return format.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, n: string) => labels[n] ?? "");
}

/** `name{a="b", c="d"}` as Prometheus prints a series. */
export function seriesName(labels: Record<string, string>): string {
  const name = labels.__name__ ?? "";
  const rest = Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}="${labels[k]}"`);
  if (rest.length === 0) return name || "{}";
  return `${name}{${rest.join(", ")}}`;
}
