// pharos stores dashboards in Grafana's dashboard JSON model (so they export back to Grafana).
// `importGrafana` normalises what Grafana versions wrote over the years into the shape the
// renderer reads: panels with gridPos, rows with their panels, known panel types, unit and
// thresholds in fieldConfig.defaults, data sources resolved to "prometheus" or "loki".

import type { Thresholds } from "./units";

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Target {
  expr?: string;
  legendFormat?: string;
  refId?: string;
  instant?: boolean;
  range?: boolean;
  format?: string;
  hide?: boolean;
  interval?: string;
  intervalFactor?: number;
  datasource?: unknown;
  [k: string]: unknown;
}

export interface FieldDefaults {
  unit?: string;
  decimals?: number | null;
  min?: number | null;
  max?: number | null;
  thresholds?: Thresholds;
  color?: { mode?: string; fixedColor?: string };
  custom?: Record<string, unknown>;
  mappings?: unknown[];
  displayName?: string;
  noValue?: string;
  [k: string]: unknown;
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos: GridPos;
  datasource?: unknown;
  targets?: Target[];
  fieldConfig?: { defaults?: FieldDefaults; overrides?: unknown[] };
  options?: Record<string, unknown>;
  collapsed?: boolean;
  panels?: Panel[];
  repeat?: string;
  interval?: string;
  maxDataPoints?: number;
  [k: string]: unknown;
}

export interface VariableModel {
  name: string;
  type: string; // query | custom | interval | datasource | constant | textbox | adhoc
  label?: string;
  query?: unknown;
  definition?: string;
  regex?: string;
  sort?: number;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { text?: unknown; value?: unknown };
  options?: Array<{ text?: unknown; value?: unknown; selected?: boolean }>;
  hide?: number;
  datasource?: unknown;
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
  [k: string]: unknown;
}

export interface Dashboard {
  uid?: string;
  title: string;
  tags?: string[];
  panels: Panel[];
  templating?: { list: VariableModel[] };
  time?: { from: string; to: string };
  refresh?: string | false;
  version?: number;
  schemaVersion?: number;
  description?: string;
  [k: string]: unknown;
}

export const SUPPORTED_PANELS = ["timeseries", "stat", "gauge", "bargauge", "table", "logs", "text", "row"];

const TYPE_MAP: Record<string, string> = {
  graph: "timeseries",
  "graph-old": "timeseries",
  singlestat: "stat",
  "grafana-singlestat-panel": "stat",
  "table-old": "table",
  "grafana-piechart-panel": "bargauge",
  piechart: "bargauge",
  barchart: "timeseries",
  heatmap: "timeseries",
  "state-timeline": "timeseries",
  "status-history": "timeseries",
  trend: "timeseries",
  xychart: "timeseries",
  histogram: "timeseries",
  news: "text",
  dashlist: "text",
  alertlist: "text",
  annolist: "text",
};

/** "prometheus" or "loki" for a data source reference, following datasource variables. */
export function datasourceKind(ds: unknown, variables: VariableModel[] = []): "prometheus" | "loki" {
  let text = "";
  if (typeof ds === "string") text = ds;
  else if (ds && typeof ds === "object") {
    const o = ds as Record<string, unknown>;
    text = `${o.type ?? ""} ${o.uid ?? ""}`;
  }
  const ref = /\$\{?(\w+)\}?/.exec(text);
  if (ref) {
    const v = variables.find((x) => x.name === ref[1] && x.type === "datasource");
    if (v && typeof v.query === "string") text += ` ${v.query}`;
  }
  return /loki/i.test(text) ? "loki" : "prometheus";
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** Legacy singlestat thresholds ("80,90" + three colours) as fieldConfig thresholds. */
function legacyThresholds(text: unknown, colors: unknown): Thresholds | undefined {
  if (typeof text !== "string" || !text.trim()) return undefined;
  const values = text.split(",").map((s) => Number(s.trim())).filter((n) => Number.isFinite(n));
  const cols = Array.isArray(colors) ? colors.map(String) : ["green", "orange", "red"];
  const steps = [{ value: null as number | null, color: cols[0] ?? "green" }];
  values.forEach((v, i) => steps.push({ value: v, color: cols[i + 1] ?? "red" }));
  return { mode: "absolute", steps };
}

function normalizePanel(raw: Record<string, unknown>, variables: VariableModel[]): Panel {
  const p = { ...raw } as Panel;
  const origType = String(raw.type ?? "timeseries");
  p.type = TYPE_MAP[origType] ?? origType;
  if (origType !== p.type) p.pharosOriginalType = origType;
  const gp = (raw.gridPos ?? {}) as Partial<GridPos>;
  p.gridPos = { x: num(gp.x) ?? 0, y: num(gp.y) ?? 0, w: num(gp.w) ?? 12, h: num(gp.h) ?? 8 };
  const fc = (p.fieldConfig = { ...(p.fieldConfig ?? {}) });
  const d: FieldDefaults = (fc.defaults = { ...(fc.defaults ?? {}) });
  if (origType === "graph" || origType === "graph-old") {
    const yaxes = raw.yaxes as Array<Record<string, unknown>> | undefined;
    if (!d.unit && yaxes?.[0]?.format) d.unit = String(yaxes[0].format);
    if (d.min === undefined && yaxes?.[0]) d.min = num(yaxes[0].min) ?? null;
    if (d.max === undefined && yaxes?.[0]) d.max = num(yaxes[0].max) ?? null;
    const custom: Record<string, unknown> = { ...(d.custom ?? {}) };
    if (raw.bars) custom.drawStyle = "bars";
    if (raw.stack) custom.stacking = { mode: raw.percentage ? "percent" : "normal" };
    if (raw.fill !== undefined) custom.fillOpacity = (num(raw.fill) ?? 1) * 10;
    d.custom = custom;
  }
  if (origType === "singlestat" || origType === "grafana-singlestat-panel") {
    if (!d.unit && typeof raw.format === "string") d.unit = raw.format;
    if (!d.thresholds) d.thresholds = legacyThresholds(raw.thresholds, raw.colors);
    if (raw.gauge && (raw.gauge as Record<string, unknown>).show) p.type = "gauge";
    if (d.decimals === undefined && num(raw.decimals) !== undefined) d.decimals = num(raw.decimals);
  }
  if (origType === "table-old" && Array.isArray(raw.styles)) {
    const st = (raw.styles as Array<Record<string, unknown>>).find((s) => s.type === "number");
    if (st && !d.unit && typeof st.unit === "string") d.unit = st.unit;
  }
  if (d.unit === "none" || d.unit === "") delete d.unit;
  const targets = Array.isArray(raw.targets) ? (raw.targets as Target[]) : [];
  p.targets = targets.map((t) => ({ ...t }));
  const kind = datasourceKind(raw.datasource, variables);
  const logsType = p.type === "logs";
  p.pharosDatasource = logsType ? "loki" : kind;
  if (p.type === "row") {
    p.panels = Array.isArray(raw.panels)
      ? (raw.panels as Array<Record<string, unknown>>).map((x) => normalizePanel(x, variables))
      : [];
    p.collapsed = Boolean(raw.collapsed);
    p.gridPos = { ...p.gridPos, x: 0, w: 24, h: 1 };
  }
  return p;
}

/** Old-schema dashboards (`rows: [{panels, height}]`) as panels with gridPos. */
function rowsToPanels(rows: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let y = 0;
  let id = 1000;
  for (const row of rows) {
    const height = Math.max(3, Math.round((num(String(row.height ?? "250").replace("px", "")) ?? 250) / 30));
    const showTitle = row.showTitle !== false && (rows.length > 1 || Boolean(row.title));
    const children: Array<Record<string, unknown>> = [];
    let x = 0;
    for (const p of (row.panels as Array<Record<string, unknown>>) ?? []) {
      const w = Math.max(1, Math.min(24, Math.round(((num(p.span) ?? 12) * 24) / 12)));
      if (x + w > 24) {
        x = 0;
        y += height;
      }
      children.push({ ...p, gridPos: { x, y: y + (showTitle ? 1 : 0), w, h: height } });
      x += w;
    }
    if (showTitle) {
      const collapsed = Boolean(row.collapse);
      out.push({
        type: "row",
        id: id++,
        title: row.title ?? "",
        collapsed,
        gridPos: { x: 0, y, w: 24, h: 1 },
        panels: collapsed ? children : [],
      });
      if (!collapsed) out.push(...children);
      y += 1;
    } else out.push(...children);
    y += height;
  }
  return out;
}

export class ImportError extends Error {}

/** Parse and normalise Grafana dashboard JSON (text or object) into pharos' model. */
export function importGrafana(input: unknown): Dashboard {
  let raw: unknown = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new ImportError(`not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ImportError("a dashboard is a JSON object");
  let obj = raw as Record<string, unknown>;
  if (obj.dashboard && typeof obj.dashboard === "object") obj = obj.dashboard as Record<string, unknown>;
  if (!Array.isArray(obj.panels) && !Array.isArray(obj.rows)) {
    throw new ImportError("no panels: this does not look like a Grafana dashboard");
  }
  const templating = obj.templating as { list?: VariableModel[] } | undefined;
  const variables = (templating?.list ?? []).filter((v) => v && typeof v.name === "string").map((v) => ({ ...v }));
  for (const v of variables) {
    if (v.type === "datasource" && typeof v.query === "string") {
      v.current = { text: v.query === "loki" ? "Loki" : "pharos", value: v.query };
    }
  }
  const rawPanels = Array.isArray(obj.panels)
    ? (obj.panels as Array<Record<string, unknown>>)
    : rowsToPanels(obj.rows as Array<Record<string, unknown>>);
  const panels = rawPanels.map((p) => normalizePanel(p, variables));
  let nextId = 1;
  const used = new Set<number>();
  const assign = (ps: Panel[]) => {
    for (const p of ps) {
      if (typeof p.id !== "number" || used.has(p.id)) {
        while (used.has(nextId)) nextId++;
        p.id = nextId;
      }
      used.add(p.id);
      if (p.panels) assign(p.panels);
    }
  };
  assign(panels);
  const time = obj.time as { from?: string; to?: string } | undefined;
  const dash: Dashboard = {
    ...obj,
    title: typeof obj.title === "string" && obj.title.trim() ? obj.title : "Imported dashboard",
    tags: Array.isArray(obj.tags) ? obj.tags.map(String) : [],
    panels,
    templating: { list: variables },
    time: { from: time?.from ?? "now-6h", to: time?.to ?? "now" },
  };
  delete dash.id;
  delete dash.rows;
  delete dash.__inputs;
  delete dash.__requires;
  delete dash.__elements;
  delete dash.version;
  return dash;
}

/** Panels laid out for display: rows own the panels below them until the next row. */
export interface Section {
  row: Panel | null;
  panels: Panel[];
}

export function sections(panels: Panel[]): Section[] {
  const sorted = [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  const out: Section[] = [{ row: null, panels: [] }];
  for (const p of sorted) {
    if (p.type === "row") {
      out.push({ row: p, panels: p.collapsed ? [...(p.panels ?? [])] : [] });
    } else {
      out[out.length - 1].panels.push(p);
    }
  }
  return out.filter((s, i) => i > 0 || s.panels.length > 0);
}

/** Every panel that draws data (nested in collapsed rows included). */
export function allPanels(panels: Panel[]): Panel[] {
  const out: Panel[] = [];
  for (const p of panels) {
    if (p.type === "row") out.push(...allPanels(p.panels ?? []));
    else out.push(p);
  }
  return out;
}
