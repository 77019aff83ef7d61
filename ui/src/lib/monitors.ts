// Monitors (/api/pharos/v1/monitors): types of the API's documents, list filtering, the form
// fields of each monitor type and their conversion to and from a definition, API validation
// errors per field, and the queries the detail chart draws (value, band, thresholds).

import { formatDuration } from "./time";

export const API = "/api/pharos/v1/monitors";
export const TYPES = ["metric", "anomaly", "forecast", "outlier", "log", "composite"] as const;
export type MonitorType = (typeof TYPES)[number];
export type MonitorState = "OK" | "WARN" | "ALERT" | "NO DATA";
/** Most severe first (the API's order: ALERT > NO DATA > WARN > OK). */
export const STATES: MonitorState[] = ["ALERT", "NO DATA", "WARN", "OK"];
export type Labels = Record<string, string>;

export interface Transition {
  at: string | null;
  at_ms: number;
  labels: Labels;
  from: MonitorState;
  to: MonitorState;
  value: number | null;
}

export interface MonitorSummary {
  name: string;
  type: MonitorType;
  query: string;
  source: "config" | "api";
  state: MonitorState | null;
  muted: boolean;
  mute_end: string | null;
  last_evaluation: string | null;
  error: string;
  group_states: Array<{ labels: Labels; state: MonitorState }>;
  last_transition: Transition | null;
}

export interface Definition {
  name: string;
  type: MonitorType;
  query: string;
  comparison?: string;
  thresholds?: Partial<Record<"critical" | "critical_recovery" | "warning" | "warning_recovery", number | null>>;
  group_by?: string[];
  labels?: Labels;
  [key: string]: unknown;
}

export interface MonitorDetail extends MonitorSummary {
  definition: Definition;
  groups: Array<{ labels: Labels; state: MonitorState; since: string | null; value: number | null; evaluated: boolean; renotify_count: number }>;
}

export interface Notification {
  at: string | null;
  kind: string;
  labels: Labels;
  state: MonitorState;
  value: number | null;
  occurrence: number;
  message: string;
}

export interface History {
  transitions: Transition[];
  notifications: Notification[];
}

/** The badge class of a state: ok, warn, bad, nodata (pending before the first evaluation). */
export function stateClass(state: MonitorState | null): string {
  return state === null ? "pending" : ({ OK: "ok", WARN: "warn", ALERT: "bad", "NO DATA": "nodata" } as const)[state];
}

export interface MonitorFilter {
  q?: string;
  state?: string;
  type?: string;
}

/** Monitors matching a name substring, a state and a type, the most severe first, then by name. */
export function filterMonitors(list: MonitorSummary[], f: MonitorFilter): MonitorSummary[] {
  const q = (f.q ?? "").trim().toLowerCase();
  const rank = (s: MonitorState | null) => (s === null ? STATES.length : STATES.indexOf(s));
  return list
    .filter((m) => (!q || m.name.toLowerCase().includes(q)) && (!f.state || m.state === f.state) && (!f.type || m.type === f.type))
    .sort((a, b) => rank(a.state) - rank(b.state) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** How many groups are in each state, in STATES order, states without groups left out. */
export function stateCounts(states: Array<{ state: MonitorState }>): Array<[MonitorState, number]> {
  return STATES.map((s): [MonitorState, number] => [s, states.filter((g) => g.state === s).length]).filter(([, n]) => n > 0);
}

/** `{a="1", b="2"}` for group labels; `(all)` for a monitor without group_by. */
export function groupName(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? `{${keys.map((k) => `${k}="${labels[k]}"`).join(", ")}}` : "(all)";
}

// ---- the form ----------------------------------------------------------------------------------

export type FieldKind = "text" | "query" | "number" | "integer" | "duration" | "select" | "bool" | "list" | "labels" | "template";

export interface FieldSpec {
  key: string; // dotted path in the definition
  label: string;
  kind: FieldKind;
  section: "query" | "thresholds" | "options" | "evaluation" | "notify";
  types: readonly MonitorType[];
  options?: string[];
  placeholder?: string;
}

const ALL = TYPES;
const VALUED: readonly MonitorType[] = ["metric", "log", "forecast"];
const THRESHOLDED: readonly MonitorType[] = ["metric", "log", "forecast", "anomaly"];

export const FIELDS: FieldSpec[] = [
  { key: "name", label: "Name", kind: "text", section: "query", types: ALL, placeholder: "api-latency" },
  { key: "query", label: "Query", kind: "query", section: "query", types: ALL },
  { key: "tenant", label: "Tenant", kind: "text", section: "query", types: ["log"], placeholder: "fake" },
  { key: "comparison", label: "Alert when the value is", kind: "select", section: "thresholds", types: VALUED, options: ["above", "above_or_equal", "below", "below_or_equal"] },
  { key: "thresholds.critical", label: "Critical", kind: "number", section: "thresholds", types: THRESHOLDED },
  { key: "thresholds.critical_recovery", label: "Critical recovery", kind: "number", section: "thresholds", types: THRESHOLDED },
  { key: "thresholds.warning", label: "Warning", kind: "number", section: "thresholds", types: THRESHOLDED },
  { key: "thresholds.warning_recovery", label: "Warning recovery", kind: "number", section: "thresholds", types: THRESHOLDED },
  { key: "anomaly.algorithm", label: "Algorithm", kind: "select", section: "options", types: ["anomaly"], options: ["agile", "robust", "basic", "contextual"] },
  { key: "anomaly.bounds", label: "Bounds (deviations)", kind: "number", section: "options", types: ["anomaly"], placeholder: "2" },
  { key: "anomaly.seasonality", label: "Seasonality", kind: "select", section: "options", types: ["anomaly"], options: ["auto", "hourly", "daily", "weekly", "none"] },
  { key: "anomaly.trigger_window", label: "Trigger window", kind: "duration", section: "options", types: ["anomaly"], placeholder: "15m" },
  { key: "anomaly.recovery_window", label: "Recovery window", kind: "duration", section: "options", types: ["anomaly"], placeholder: "15m" },
  { key: "anomaly.step", label: "Step", kind: "duration", section: "options", types: ["anomaly"], placeholder: "1m" },
  { key: "anomaly.history", label: "History", kind: "duration", section: "options", types: ["anomaly"], placeholder: "2d" },
  { key: "forecast.algorithm", label: "Algorithm", kind: "select", section: "options", types: ["forecast"], options: ["linear", "seasonal"] },
  { key: "forecast.model", label: "Linear model", kind: "select", section: "options", types: ["forecast"], options: ["reactive", "robust"] },
  { key: "forecast.seasonality", label: "Seasonality (seasonal)", kind: "select", section: "options", types: ["forecast"], options: ["daily", "hourly", "weekly"] },
  { key: "forecast.horizon", label: "Horizon", kind: "duration", section: "options", types: ["forecast"], placeholder: "1d" },
  { key: "forecast.bounds", label: "Bounds (deviations)", kind: "number", section: "options", types: ["forecast"], placeholder: "2" },
  { key: "forecast.step", label: "Step", kind: "duration", section: "options", types: ["forecast"], placeholder: "5m" },
  { key: "forecast.history", label: "History", kind: "duration", section: "options", types: ["forecast"], placeholder: "4d" },
  { key: "outlier.algorithm", label: "Algorithm", kind: "select", section: "options", types: ["outlier"], options: ["dbscan", "scaled_dbscan", "mad", "scaled_mad"] },
  { key: "outlier.tolerance", label: "Tolerance", kind: "number", section: "options", types: ["outlier"], placeholder: "default" },
  { key: "outlier.pct", label: "Percent of points (MAD)", kind: "number", section: "options", types: ["outlier"], placeholder: "20" },
  { key: "outlier.window", label: "Window", kind: "duration", section: "options", types: ["outlier"], placeholder: "1h" },
  { key: "outlier.step", label: "Step", kind: "duration", section: "options", types: ["outlier"], placeholder: "1m" },
  { key: "group_by", label: "Group by (multi-alert; labels, comma-separated)", kind: "list", section: "evaluation", types: ["metric", "anomaly", "forecast", "outlier", "log"], placeholder: "service, instance" },
  { key: "interval", label: "Evaluate every", kind: "duration", section: "evaluation", types: ALL, placeholder: "1m" },
  { key: "evaluation_delay", label: "Evaluation delay", kind: "duration", section: "evaluation", types: ALL, placeholder: "0s" },
  { key: "new_group_delay", label: "New group delay", kind: "duration", section: "evaluation", types: ALL, placeholder: "0s" },
  { key: "notify_no_data", label: "Notify when data is missing (NO DATA)", kind: "bool", section: "evaluation", types: ALL },
  { key: "no_data_timeframe", label: "No-data timeframe", kind: "duration", section: "evaluation", types: ALL, placeholder: "10m" },
  { key: "message", label: "Message ({{ $value }}, {{ $threshold }}, {{ $labels.x }})", kind: "template", section: "notify", types: ALL },
  { key: "renotify_interval", label: "Renotify every", kind: "duration", section: "notify", types: ALL, placeholder: "0s (never)" },
  { key: "renotify_occurrences", label: "Renotify at most (0 = no cap)", kind: "integer", section: "notify", types: ALL, placeholder: "0" },
  { key: "escalation_message", label: "Escalation message", kind: "template", section: "notify", types: ALL },
  { key: "labels", label: "Alert labels (k=v, comma-separated)", kind: "labels", section: "notify", types: ALL, placeholder: "team=web, env=prod" },
];

/** The fields a monitor type takes. */
export function fieldsFor(type: MonitorType): FieldSpec[] {
  return FIELDS.filter((f) => f.types.includes(type));
}

export type FormValues = Record<string, string | boolean>;

function getPath(doc: Record<string, unknown>, key: string): unknown {
  return key.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), doc);
}

function setPath(doc: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let o = doc;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
}

/** Seconds as a Prometheus duration (`90` -> `1m30s`). */
export function secondsText(s: number): string {
  return formatDuration(s * 1000);
}

/** The form's values for a definition (durations as `1m30s`, lists comma-separated). */
export function formFromDefinition(def: Definition): FormValues {
  const out: FormValues = {};
  for (const f of fieldsFor(def.type)) {
    const v = getPath(def, f.key);
    if (v === undefined || v === null) continue;
    if (f.kind === "bool") out[f.key] = Boolean(v);
    else if (f.kind === "duration" && typeof v === "number") out[f.key] = secondsText(v);
    else if (f.kind === "list") out[f.key] = (v as string[]).join(", ");
    else if (f.kind === "labels") out[f.key] = Object.entries(v as Labels).map(([k, x]) => `${k}=${x}`).join(", ");
    else out[f.key] = String(v);
  }
  return out;
}

/** A definition from the form's values: only the type's fields, blanks left to the server's
 * defaults. `errors` names the fields whose text is not a number or a label list. */
export function definitionFromForm(type: MonitorType, values: FormValues): { definition: Definition; errors: Record<string, string> } {
  const doc: Record<string, unknown> = { type };
  const errors: Record<string, string> = {};
  for (const f of fieldsFor(type)) {
    const raw = values[f.key];
    if (f.kind === "bool") {
      if (raw !== undefined) setPath(doc, f.key, Boolean(raw));
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (!text && f.key !== "name" && f.key !== "query") continue;
    const value = convert(f, text);
    if (value instanceof Error) errors[f.key] = value.message;
    else setPath(doc, f.key, value);
  }
  return { definition: doc as Definition, errors };
}

function convert(f: FieldSpec, text: string): unknown {
  switch (f.kind) {
    case "number":
    case "integer": {
      const n = Number(text);
      if (!Number.isFinite(n)) return new Error(`not a number: ${text}`);
      if (f.kind === "integer" && !Number.isInteger(n)) return new Error(`not a whole number: ${text}`);
      return n;
    }
    case "list":
      return text.split(",").map((s) => s.trim()).filter(Boolean);
    case "labels": {
      const out: Labels = {};
      for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
        const eq = part.indexOf("=");
        if (eq <= 0) return new Error(`expected name=value, got ${JSON.stringify(part)}`);
        out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
      }
      return out;
    }
    default:
      return text;
  }
}

/** The API's validation message (`key: message; key: message`) per form field; "" holds what
 * belongs to no field. `group_by.0` goes to `group_by`, `labels.x` to `labels`. */
export function fieldErrors(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (key: string, text: string) => (out[key] = out[key] ? `${out[key]}; ${text}` : text);
  for (const part of message.split(/; (?=[A-Za-z_][\w.]*: )/)) {
    const m = /^([A-Za-z_][\w.]*): ([\s\S]*)$/.exec(part);
    const field = m ? FIELDS.filter((f) => m[1] === f.key || m[1].startsWith(`${f.key}.`)).sort((a, b) => b.key.length - a.key.length)[0] : undefined;
    if (m && field) add(field.key, m[2]);
    else add("", part);
  }
  return out;
}

// ---- the chart ---------------------------------------------------------------------------------

export type Role = "value" | "upper" | "lower" | "outliers";

export interface ChartQuery {
  role: Role;
  expr: string;
  lang: "promql" | "logql";
  label: string; // the legend's prefix of its series
}

function option(def: Definition, block: string): Record<string, unknown> {
  return (def[block] as Record<string, unknown> | undefined) ?? {};
}

/** The queries the detail chart draws: the monitor's query and, for anomaly and forecast
 * monitors, its band through the PromQL extension functions; for outlier monitors the outlying
 * members. Composite monitors have no chart. */
export function chartQueries(def: Definition): ChartQuery[] {
  const q = def.query;
  const value: ChartQuery = { role: "value", expr: q, lang: def.type === "log" ? "logql" : "promql", label: "" };
  const band = (fn: string, args: string, label: string): ChartQuery[] => [
    value,
    { role: "upper", expr: `${fn}_upper(${args})`, lang: "promql", label: `${label} upper` },
    { role: "lower", expr: `${fn}_lower(${args})`, lang: "promql", label: `${label} lower` },
  ];
  if (def.type === "composite") return [];
  if (def.type === "anomaly") {
    const a = option(def, "anomaly");
    const alg = String(a.algorithm ?? "agile");
    const season = alg === "basic" ? "" : `, "${a.seasonality ?? "auto"}"`;
    return band("anomaly", `${q}, "${alg}", ${a.bounds ?? 2}${season}`, "band");
  }
  if (def.type === "forecast") {
    const f = option(def, "forecast");
    const alg = String(f.algorithm ?? "linear");
    const opt = alg === "linear" ? f.model ?? "reactive" : f.seasonality ?? "daily";
    const horizon = Number(f.horizon ?? 86400);
    return band("forecast", `${q}, "${alg}", ${horizon}, "${opt}"`, `forecast +${secondsText(horizon)}`);
  }
  if (def.type === "outlier") {
    const o = option(def, "outlier");
    const tol = o.tolerance === null || o.tolerance === undefined ? "" : `, ${o.tolerance}, ${o.pct ?? 20}`;
    return [value, { role: "outliers", expr: `outliers(${q}, "${o.algorithm ?? "dbscan"}"${tol})`, lang: "promql", label: "outlier" }];
  }
  return [value];
}

/** The thresholds drawn as horizontal lines (value monitors only: anomaly thresholds are
 * fractions of points, not values). */
export function thresholdLines(def: Definition): Array<{ name: string; value: number; level: "critical" | "warning"; recovery: boolean }> {
  if (!VALUED.includes(def.type)) return [];
  const t = def.thresholds ?? {};
  const keys = ["critical", "warning", "critical_recovery", "warning_recovery"] as const;
  return keys
    .filter((k) => typeof t[k] === "number" && !(k.endsWith("_recovery") && t[k] === t[k.replace("_recovery", "") as "critical" | "warning"]))
    .map((k) => ({ name: k.replace("_", " "), value: t[k] as number, level: k.startsWith("critical") ? ("critical" as const) : ("warning" as const), recovery: k.endsWith("_recovery") }));
}

/** A series' identity without its metric name (the extension functions drop `__name__`). */
export function seriesKey(labels: Labels): string {
  return groupName(Object.fromEntries(Object.entries(labels).filter(([k]) => k !== "__name__")));
}

/** Pairs of (upper, lower) band series with the same labels, as indices into `series`. */
export function bandPairs(series: Array<{ role: Role; labels: Labels }>): Array<[number, number]> {
  const lower = new Map<string, number>();
  series.forEach((s, i) => s.role === "lower" && lower.set(seriesKey(s.labels), i));
  const out: Array<[number, number]> = [];
  series.forEach((s, i) => {
    const j = s.role === "upper" ? lower.get(seriesKey(s.labels)) : undefined;
    if (j !== undefined) out.push([i, j]);
  });
  return out;
}
