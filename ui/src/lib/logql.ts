// LogQL editing help for Explore logs: stream selectors built from the label browser, the
// selector part of a query, label/field filters, the log-volume query, per-field value stats.
// Pure functions (no DOM), unit-tested with Vitest.

export type Selection = Record<string, string[]>; // label -> chosen values (OR within a label)

/** A LogQL string literal (double-quoted, Go escapes). */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Escape regex metacharacters (RE2 and JS agree on this set). */
export function regexEscape(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `{a="x", b=~"y|z"}` from chosen label values; "" when nothing is chosen. */
export function buildSelector(sel: Selection): string {
  const parts: string[] = [];
  for (const name of Object.keys(sel).sort()) {
    const vals = [...new Set(sel[name])];
    if (vals.length === 0) continue;
    if (vals.length === 1) parts.push(`${name}=${quote(vals[0])}`);
    else parts.push(`${name}=~${quote(vals.map(regexEscape).join("|"))}`);
  }
  return parts.length ? `{${parts.join(", ")}}` : "";
}

/** Where the stream selector `{...}` of a query is: [start, end) or null. */
export function selectorSpan(query: string): [number, number] | null {
  const start = query.indexOf("{");
  if (start < 0) return null;
  let q = "";
  for (let i = start + 1; i < query.length; i++) {
    const c = query[i];
    if (q) {
      if (c === "\\" && q !== "`") i++;
      else if (c === q) q = "";
    } else if (c === '"' || c === "`") q = c;
    else if (c === "}") return [start, i + 1];
  }
  return null;
}

const MATCHER_RE = /([A-Za-z_][\w]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g;

export interface Matcher {
  name: string;
  op: string;
  value: string;
}

function unquote(lit: string): string {
  if (lit.startsWith("`")) return lit.slice(1, -1);
  return lit.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
}

/** The matchers of the query's stream selector. */
export function parseSelector(query: string): Matcher[] {
  const span = selectorSpan(query);
  if (!span) return [];
  const body = query.slice(span[0] + 1, span[1] - 1);
  return [...body.matchAll(MATCHER_RE)].map((m) => ({ name: m[1], op: m[2], value: unquote(m[3]) }));
}

/** The label browser's selection as read back from a query (= and =~ of plain alternatives). */
export function selectionOf(query: string): Selection {
  const out: Selection = {};
  for (const m of parseSelector(query)) {
    if (m.op === "=") out[m.name] = [m.value];
    else if (m.op === "=~" && /^([^.*+?^${}()[\]\\|]|\\.)+(\|([^.*+?^${}()[\]\\|]|\\.)+)*$/.test(m.value)) {
      out[m.name] = m.value.split(/(?<!\\)\|/).map((v) => v.replace(/\\(.)/g, "$1"));
    }
  }
  return out;
}

/** Replace (or insert) the query's stream selector, keeping its pipeline. */
export function withSelector(query: string, selector: string): string {
  const span = selectorSpan(query);
  if (!span) return selector + (query.trim() ? ` ${query.trim()}` : "");
  return query.slice(0, span[0]) + selector + query.slice(span[1]);
}

/** Add (or replace) one matcher in the stream selector: `op` is =, != ... */
export function withMatcher(query: string, name: string, op: string, value: string): string {
  const ms = parseSelector(query).filter((m) => m.name !== name);
  ms.push({ name, op, value });
  const sel = `{${ms.map((m) => `${m.name}${m.op}${quote(m.value)}`).join(", ")}}`;
  return withSelector(query, sel);
}

/** Whether a log query already has a parser stage of that name (`| json`, `| logfmt`). */
function hasStage(query: string, stage: string): boolean {
  return new RegExp(`\\|\\s*${stage}\\b`).test(query);
}

/** A filter on a parsed field: appends `| json` or `| logfmt` when needed, then `| k="v"`. */
export function withFieldFilter(query: string, parser: "json" | "logfmt", field: string, value: string, negate = false): string {
  let q = query.trim();
  if (!hasStage(q, "json") && !hasStage(q, "logfmt")) q += ` | ${parser}`;
  const name = field.replace(/[^\w]/g, "_");
  return `${q} | ${name}${negate ? "!=" : "="}${quote(value)}`;
}

/** A line filter `|= "text"` (or `!=`) appended before any parser. */
export function withLineFilter(query: string, text: string, negate = false): string {
  const span = selectorSpan(query);
  const f = ` ${negate ? "!=" : "|="} ${quote(text)}`;
  if (!span) return query.trim() + f;
  return query.slice(0, span[1]) + f + query.slice(span[1]);
}

/** A regexp stage that extracts `level` from `level=x`, `"level":"x"`, `lvl`, `severity`. */
export const LEVEL_REGEXP = "(?i)(?:level|lvl|severity)\"?\\s*[=:]\\s*\"?(?P<level>[A-Za-z]+)";

/** The log-volume query behind the histogram: lines per `level` per step. */
export function volumeQuery(logQuery: string, stepMs: number): string {
  const step = `${Math.max(1, Math.round(stepMs / 1000))}s`;
  return `sum by (level) (count_over_time(${logQuery.trim()} | regexp \`${LEVEL_REGEXP}\` [${step}]))`;
}

/** Normalise a level word to error, warn, info, debug, trace or unknown. */
export function normaliseLevel(raw: string | undefined): string {
  const l = (raw ?? "").toLowerCase();
  if (["err", "error", "eror", "fatal", "critical", "crit", "panic", "emerg", "alert", "severe"].includes(l)) return "error";
  if (l === "warn" || l === "warning") return "warn";
  if (l === "info" || l === "notice" || l === "information" || l === "informational") return "info";
  if (l === "debug" || l === "dbg") return "debug";
  if (l === "trace") return "trace";
  return "unknown";
}

export const LEVELS = ["error", "warn", "info", "debug", "trace", "unknown"];
export const LEVEL_COLORS: Record<string, string> = {
  error: "#e02f44",
  warn: "#ff9830",
  info: "#56a64b",
  debug: "#3274d9",
  trace: "#a352cc",
  unknown: "#8e8e8e",
};

/** Merge volume series by normalised level (ERROR and error are one bar), in LEVELS order. */
export function volumeByLevel(series: Array<{ metric: Record<string, string>; values?: Array<[number, string]> }>): Array<{ metric: Record<string, string>; values: Array<[number, string]> }> {
  const acc = new Map<string, Map<number, number>>();
  for (const s of series) {
    const lvl = normaliseLevel(s.metric.level ?? s.metric.detected_level);
    const m = acc.get(lvl) ?? new Map<number, number>();
    for (const [t, v] of s.values ?? []) m.set(t, (m.get(t) ?? 0) + (parseFloat(v) || 0));
    acc.set(lvl, m);
  }
  return LEVELS.filter((l) => acc.has(l)).map((l) => ({
    metric: { level: l },
    values: [...acc.get(l)!.entries()].sort((a, b) => a[0] - b[0]).map(([t, v]) => [t, String(v)] as [number, string]),
  }));
}

export interface FieldStat {
  value: string;
  count: number;
  percent: number;
}

/** How often each value of `field` occurs among the lines that have it (top `limit`). */
export function fieldStats(rows: Array<Record<string, string> | null>, field: string, limit = 5): { total: number; values: FieldStat[] } {
  const counts = new Map<string, number>();
  let total = 0;
  for (const r of rows) {
    const v = r?.[field];
    if (v === undefined) continue;
    total++;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const values = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, limit)
    .map(([value, count]) => ({ value, count, percent: total ? (100 * count) / total : 0 }));
  return { total, values };
}

/** Compare two nanosecond timestamps given as decimal strings. */
export function cmpNs(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** The labels that differ between streams (the ones worth showing on each line). */
export function varyingLabels(streams: Array<Record<string, string>>): string[] {
  const names = new Set<string>();
  streams.forEach((s) => Object.keys(s).forEach((k) => names.add(k)));
  return [...names].filter((n) => new Set(streams.map((s) => s[n] ?? "")).size > 1).sort();
}
