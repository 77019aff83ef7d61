// Dashboard panels: timeseries, stat, gauge, bar gauge, table, logs, text. Each panel element
// carries data-state = loading | data | nodata | error for tests and users alike.

import { prom, shared, type QueryData } from "../lib/api";
import { h, replace } from "../lib/dom";
import type { FieldDefaults, Panel, Target } from "../lib/grafana";
import { formatDate, parseDuration, type ResolvedRange } from "../lib/time";
import { cssColor, formatValue, thresholdColor } from "../lib/units";
import { computeInterval, formatLegend, interpolate, rateInterval, seriesName, type VariableValues } from "../lib/variables";
import { Chart, PALETTE, alignMatrix, type ChartData, type DrawMode } from "./chart";
import { lokiMetricQuery, queryLogs } from "../lib/loki";
import { gridOf } from "../lib/align";
import { logsLinkFor } from "../pages/links";

export interface PanelContext {
  range: ResolvedRange;
  vars: VariableValues;
  scrapeIntervalMs: number;
}

// At most a few queries in flight, as browsers and the server both prefer.
const MAX_INFLIGHT = 6;
let inflight = 0;
const waiting: Array<() => void> = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (inflight >= MAX_INFLIGHT) await new Promise<void>((r) => waiting.push(r));
  inflight++;
  try {
    return await fn();
  } finally {
    inflight--;
    waiting.shift()?.();
  }
}

interface SeriesResult {
  name: string;
  labels: Record<string, string>;
  refId: string;
  values: Array<number | null>;
}

interface PanelData {
  xs: number[];
  series: SeriesResult[];
}

function defaults(p: Panel): FieldDefaults {
  return p.fieldConfig?.defaults ?? {};
}

function activeTargets(p: Panel): Target[] {
  return (p.targets ?? []).filter((t) => !t.hide && typeof t.expr === "string" && t.expr.trim() !== "");
}

function reduce(values: Array<number | null>, calc: string): number | null {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (xs.length === 0) return null;
  switch (calc) {
    case "last":
      return values[values.length - 1] ?? null;
    case "first":
    case "firstNotNull":
      return xs[0];
    case "mean":
    case "avg":
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    case "max":
      return Math.max(...xs);
    case "min":
      return Math.min(...xs);
    case "sum":
    case "total":
      return xs.reduce((a, b) => a + b, 0);
    case "count":
      return xs.length;
    case "delta":
    case "diff":
      return xs[xs.length - 1] - xs[0];
    case "range":
      return Math.max(...xs) - Math.min(...xs);
    default:
      return xs[xs.length - 1];
  }
}

/** Grafana value mappings (value, range, special) and legacy valueMaps: the text for `v`. */
export function mapValue(v: number | null, mappings: unknown[] | undefined): { text?: string; color?: string } | null {
  if (!Array.isArray(mappings)) return null;
  for (const m of mappings as Array<Record<string, unknown>>) {
    const opts = (m.options ?? {}) as Record<string, unknown>;
    if (m.type === "value" && v !== null) {
      const hit = opts[String(v)] as { text?: string; color?: string } | undefined;
      if (hit) return hit;
    } else if (m.type === "range" && v !== null) {
      const from = opts.from as number | null | undefined;
      const to = opts.to as number | null | undefined;
      if ((from === null || from === undefined || v >= from) && (to === null || to === undefined || v <= to)) return (opts.result ?? {}) as { text?: string };
    } else if (m.type === "special" && v === null && (opts.match === "null" || opts.match === "nan" || opts.match === "null+nan")) {
      return (opts.result ?? {}) as { text?: string };
    } else if (m.value !== undefined && v !== null && String(m.value) === String(v) && typeof m.text === "string") {
      return { text: m.text };
    }
  }
  return null;
}

export class PanelView {
  readonly el: HTMLElement;
  private body: HTMLElement;
  private chart: Chart | null = null;
  private range: ResolvedRange = { start: Date.now() - 3_600_000, end: Date.now() };
  private abort: AbortController | null = null;
  private lastRun = 0;

  constructor(
    readonly panel: Panel,
    onEdit?: (p: Panel) => void,
  ) {
    this.body = h("div", { class: "panel-body" });
    const gp = panel.gridPos;
    this.el = h(
      "div",
      {
        class: `panel panel-${panel.type}`,
        "data-panel-id": String(panel.id ?? ""),
        "data-panel-type": panel.type,
        "data-state": "loading",
        style: { gridColumn: `${gp.x + 1} / span ${Math.max(1, Math.min(24, gp.w))}`, gridRow: `span ${Math.max(2, gp.h)}` },
      },
      h(
        "div",
        { class: "panel-head", title: panel.description ?? "" },
        h("span", { class: "panel-title" }, panel.title ?? ""),
        onEdit ? h("button", { class: "link", title: "edit panel", onclick: () => onEdit(panel) }, "✎") : null,
      ),
      this.body,
    );
  }

  destroy(): void {
    this.abort?.abort();
    this.chart?.destroy();
  }

  private setState(state: string, message?: string): void {
    this.el.dataset.state = state;
    if (state === "nodata") {
      const noValue = defaults(this.panel).noValue;
      replace(this.body, h("div", { class: "no-data" }, noValue || "No data"));
    } else if (state === "error") {
      replace(this.body, h("div", { class: "panel-error", "data-testid": "panel-error" }, message ?? "error"));
    }
  }

  async load(ctx: PanelContext): Promise<void> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const run = ++this.lastRun;
    const p = this.panel;
    try {
      if (p.type === "text") {
        const opts = (p.options ?? {}) as { content?: string };
        replace(this.body, h("div", { class: "text-panel" }, String(opts.content ?? p.content ?? "")));
        this.el.dataset.state = "data";
        return;
      }
      const loki = p.pharosDatasource === "loki";
      if (p.type === "logs") {
        await this.loadLogs(ctx, abort.signal);
        return;
      }
      if (!["timeseries", "stat", "gauge", "bargauge", "table"].includes(p.type)) {
        replace(this.body, h("div", { class: "no-data" }, `Panel type "${p.type}" is not supported by pharos`));
        this.el.dataset.state = "nodata";
        return;
      }
      const targets = activeTargets(p);
      if (targets.length === 0) {
        this.setState("nodata");
        return;
      }
      const width = this.el.clientWidth || 600;
      const minInterval = parseDuration(interpolate(String(p.interval ?? ""), ctx.vars)) ?? 0;
      const rangeMs = ctx.range.end - ctx.range.start;
      const intervalMs = Math.max(computeInterval(rangeMs, Math.min(p.maxDataPoints ?? width, width), minInterval), 1000);
      const builtins = {
        intervalMs,
        rateIntervalMs: rateInterval(intervalMs, ctx.scrapeIntervalMs),
        rangeMs,
        fromMs: ctx.range.start,
        toMs: ctx.range.end,
      };
      const step = intervalMs;
      const alignedStart = Math.ceil(ctx.range.start / step) * step;
      const wantsInstant = (t: Target) => t.instant === true && t.range !== true || (p.type === "table" && t.format === "table" && t.range !== true);
      const results = await Promise.all(
        targets.map(async (t): Promise<{ t: Target; data: QueryData; instant: boolean }> => {
          const expr = interpolate(t.expr!, ctx.vars, builtins);
          const instant = wantsInstant(t);
          // Panels asking the same question at the same time share one request.
          const key = JSON.stringify([loki ? "loki" : instant ? "instant" : "range", expr, alignedStart, ctx.range.end, step]);
          const data = await shared(
            key,
            (signal) =>
              limited(() =>
                loki
                  ? lokiMetricQuery(expr, { start: alignedStart, end: ctx.range.end }, step, signal)
                  : instant
                    ? prom.query(expr, ctx.range.end, signal)
                    : prom.queryRange(expr, alignedStart, ctx.range.end, step, signal),
              ),
            abort.signal,
          );
          return { t, data, instant };
        }),
      );
      if (run !== this.lastRun) return;
      const startS = alignedStart / 1000;
      const grid = gridOf(startS, ctx.range.end / 1000, step / 1000);
      const data: PanelData = { xs: grid, series: [] };
      const instantRows: Array<{ labels: Record<string, string>; refId: string; value: number | null }> = [];
      for (const { t, data: d } of results) {
        const refId = t.refId ?? "A";
        if (d.resultType === "matrix") {
          const aligned = alignMatrix(d.result, (l) => formatLegend(t.legendFormat, l), startS, ctx.range.end / 1000, step / 1000);
          for (const s of aligned.series) data.series.push({ ...s, refId });
        } else if (d.resultType === "vector") {
          for (const s of d.result) {
            const v = s.value ? parseFloat(s.value[1]) : null;
            instantRows.push({ labels: s.metric, refId, value: v });
            const values: Array<number | null> = grid.map(() => null);
            if (values.length) values[values.length - 1] = v;
            data.series.push({ name: formatLegend(t.legendFormat, s.metric), labels: s.metric, refId, values });
          }
        } else if (d.resultType === "scalar") {
          const v = parseFloat(d.result[1]);
          instantRows.push({ labels: {}, refId, value: v });
          data.series.push({ name: formatLegend(t.legendFormat, {}) || "scalar", labels: {}, refId, values: grid.map(() => v) });
        }
      }
      const hasValues = data.series.some((s) => s.values.some((v) => v !== null));
      if (!hasValues) {
        this.setState("nodata");
        return;
      }
      this.range = ctx.range;
      this.render(data, instantRows);
      this.el.dataset.state = "data";
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      this.setState("error", (e as Error).message);
    }
  }

  private async loadLogs(ctx: PanelContext, signal: AbortSignal): Promise<void> {
    const t = (this.panel.targets ?? []).find((x) => !x.hide && typeof x.expr === "string" && x.expr.trim());
    if (!t) {
      this.setState("nodata");
      return;
    }
    const expr = interpolate(t.expr!, ctx.vars, { intervalMs: 60_000, rateIntervalMs: 60_000, rangeMs: ctx.range.end - ctx.range.start, fromMs: ctx.range.start, toMs: ctx.range.end });
    const res = await queryLogs(expr, ctx.range, 200, "backward", signal);
    if (res.kind === "unavailable") {
      replace(this.body, h("div", { class: "no-data" }, "No data (log store not available)"));
      this.el.dataset.state = "nodata";
      return;
    }
    if (res.lines.length === 0) {
      this.setState("nodata");
      return;
    }
    replace(
      this.body,
      h("div", { class: "log-lines", style: { overflow: "auto", flex: "1" } }, ...res.lines.map((l) => h("div", { class: "log-line" }, h("span", { class: `lvl lvl-${l.level}` }), h("span", { class: "ts" }, formatDate(l.tsMs)), h("span", { class: "msg" }, l.line)))),
    );
    this.el.dataset.state = "data";
  }

  private render(data: PanelData, instantRows: Array<{ labels: Record<string, string>; refId: string; value: number | null }>): void {
    const p = this.panel;
    const d = defaults(p);
    const opts = (p.options ?? {}) as Record<string, unknown>;
    const unit = d.unit;
    const decimals = d.decimals ?? null;
    if (p.type === "timeseries") {
      const custom = (d.custom ?? {}) as Record<string, unknown>;
      const stacking = (custom.stacking as { mode?: string } | undefined)?.mode;
      const mode: DrawMode = custom.drawStyle === "bars" ? "bars" : stacking && stacking !== "none" ? "stacked" : "lines";
      const legend = opts.legend as { showLegend?: boolean; displayMode?: string } | undefined;
      this.chart?.destroy();
      this.chart = new Chart({
        mode,
        unit,
        decimals,
        min: d.min ?? null,
        max: d.max ?? null,
        fillOpacity: typeof custom.fillOpacity === "number" ? custom.fillOpacity : 0,
        // Grafana's default line width; thin lines are also much cheaper to rasterise.
        lineWidth: typeof custom.lineWidth === "number" ? custom.lineWidth : 1,
        legend: legend?.showLegend !== false && legend?.displayMode !== "hidden",
        id: `panel-${p.id}`,
        // A series with pod or job labels links to its logs over the panel's time range.
        seriesAction: (s) => logsLinkFor(s.labels, { from: String(this.range.start), to: String(this.range.end) }),
      });
      replace(this.body, this.chart.el);
      const cd: ChartData = { xs: data.xs, series: data.series.map((s) => ({ name: s.name, labels: s.labels, values: s.values })) };
      this.chart.setData(cd, true);
      return;
    }
    const reduceOpts = (opts.reduceOptions ?? {}) as { calcs?: string[] };
    const calc = reduceOpts.calcs?.[0] ?? "lastNotNull";
    const reduced = data.series.map((s) => ({ name: s.name, value: reduce(s.values, calc), labels: s.labels }));
    const text = (v: number | null) => mapValue(v, d.mappings)?.text ?? formatValue(v, unit, decimals);
    const colorOf = (v: number | null) => {
      const mapped = mapValue(v, d.mappings)?.color;
      if (mapped) return cssColor(mapped);
      if (d.color?.mode === "fixed" && d.color.fixedColor) return cssColor(d.color.fixedColor);
      return thresholdColor(v, d.thresholds, d.min ?? 0, d.max ?? 100);
    };
    if (p.type === "stat") {
      const colorMode = (opts.colorMode as string | undefined) ?? "value";
      replace(
        this.body,
        h(
          "div",
          { class: "stat-grid" },
          ...reduced.map((r) => {
            const c = colorOf(r.value);
            const bg = colorMode === "background" || colorMode === "background_solid";
            return h(
              "div",
              { class: "stat", style: bg ? { background: c, color: "#fff" } : {} },
              h("div", { class: "v", style: !bg && colorMode !== "none" ? { color: c } : {} }, text(r.value)),
              reduced.length > 1 ? h("div", { class: "n", style: bg ? { color: "#fff" } : {} }, r.name) : null,
            );
          }),
        ),
      );
    } else if (p.type === "gauge") {
      const [min, max] = this.minMax(d, unit, reduced.map((r) => r.value));
      replace(this.body, h("div", { class: "gauge-wrap" }, ...reduced.map((r) => this.gauge(r.value, min, max, text(r.value), colorOf(r.value), reduced.length > 1 ? r.name : ""))));
    } else if (p.type === "bargauge") {
      const [min, max] = this.minMax(d, unit, reduced.map((r) => r.value));
      replace(
        this.body,
        h(
          "div",
          { class: "bars" },
          ...reduced.map((r, i) => {
            const frac = r.value === null ? 0 : Math.max(0, Math.min(1, (r.value - min) / (max - min || 1)));
            const color = d.color?.mode?.startsWith("palette") ? PALETTE[i % PALETTE.length] : colorOf(r.value);
            return h("div", { class: "bar-row" }, h("span", { class: "n", title: r.name }, r.name), h("div", { class: "bar-track" }, h("div", { class: "bar-fill", style: { width: `${frac * 100}%`, background: color } })), h("b", { style: { color } }, text(r.value)));
          }),
        ),
      );
    } else if (p.type === "table") {
      this.table(instantRows.length ? instantRows : reduced.map((r, i) => ({ labels: r.labels, refId: data.series[i].refId, value: r.value })), text);
    }
  }

  private minMax(d: FieldDefaults, unit: string | undefined, values: Array<number | null>): [number, number] {
    const min = d.min ?? 0;
    let max = d.max ?? null;
    if (max === null) {
      if (unit === "percentunit") max = 1;
      else if (unit === "percent") max = 100;
      else max = Math.max(100, ...values.filter((v): v is number => v !== null).map((v) => v * 1.2));
    }
    return [min, max];
  }

  private gauge(v: number | null, min: number, max: number, label: string, color: string, name: string): HTMLElement {
    const frac = v === null ? 0 : Math.max(0, Math.min(1, (v - min) / (max - min || 1)));
    const a0 = Math.PI * 0.75;
    const a1 = a0 + Math.PI * 1.5 * frac;
    const arc = (from: number, to: number) => {
      const r = 40;
      const [x0, y0] = [50 + r * Math.cos(from), 50 + r * Math.sin(from)];
      const [x1, y1] = [50 + r * Math.cos(to), 50 + r * Math.sin(to)];
      return `M${x0.toFixed(2)} ${y0.toFixed(2)} A${r} ${r} 0 ${to - from > Math.PI ? 1 : 0} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
    };
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 100 88");
    const track = document.createElementNS(ns, "path");
    track.setAttribute("d", arc(a0, a0 + Math.PI * 1.5));
    track.setAttribute("stroke", "var(--hover)");
    track.setAttribute("stroke-width", "9");
    track.setAttribute("fill", "none");
    svg.append(track);
    if (frac > 0.001) {
      const fill = document.createElementNS(ns, "path");
      fill.setAttribute("d", arc(a0, a1));
      fill.setAttribute("stroke", color);
      fill.setAttribute("stroke-width", "9");
      fill.setAttribute("fill", "none");
      svg.append(fill);
    }
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", "50");
    t.setAttribute("y", "57");
    t.setAttribute("text-anchor", "middle");
    t.setAttribute("font-size", label.length > 8 ? "12" : "16");
    t.setAttribute("font-weight", "600");
    t.setAttribute("fill", color);
    t.textContent = label;
    svg.append(t);
    return h("div", { class: "gauge" }, svg, name ? h("div", { class: "n muted" }, name) : null);
  }

  private table(rows: Array<{ labels: Record<string, string>; refId: string; value: number | null }>, text: (v: number | null) => string): void {
    const refIds = [...new Set(rows.map((r) => r.refId))];
    const merged = new Map<string, { labels: Record<string, string>; values: Record<string, number | null> }>();
    for (const r of rows) {
      const labels = { ...r.labels };
      delete labels.__name__;
      const key = seriesName(labels);
      const m = merged.get(key) ?? { labels, values: {} };
      m.values[r.refId] = r.value;
      merged.set(key, m);
    }
    const labelCols = [...new Set([...merged.values()].flatMap((m) => Object.keys(m.labels)))].sort();
    const valueCols = refIds.map((id) => (refIds.length > 1 ? `Value #${id}` : "Value"));
    replace(
      this.body,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data" },
          h("thead", null, h("tr", null, ...labelCols.map((c) => h("th", null, c)), ...valueCols.map((c) => h("th", { class: "num" }, c)))),
          h("tbody", null, ...[...merged.values()].map((m) => h("tr", null, ...labelCols.map((c) => h("td", null, m.labels[c] ?? "")), ...refIds.map((id) => h("td", { class: "num" }, text(m.values[id] ?? null)))))),
        ),
      ),
    );
  }
}
