// Time series chart on uPlot: lines, stacked areas or bars; a legend that toggles series;
// a hover tooltip; drag to zoom. Each chart registers itself on `window.__pharos.charts` so
// browser tests can read what was drawn (series count, points) rather than pixels.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h, replace } from "../lib/dom";
import { formatDate } from "../lib/time";
import { formatValue } from "../lib/units";
import type { ChartData, ChartSeries } from "../lib/align";

export { alignMatrix, type ChartData, type ChartSeries } from "../lib/align";

export const PALETTE = [
  "#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0", "#508642",
  "#cca300", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62", "#584477", "#b7dbab", "#f4d598",
  "#70dbed", "#f9ba8f", "#f29191", "#82b5d8", "#e5a8e2", "#aea2e0",
];

export type DrawMode = "lines" | "stacked" | "bars";

export interface ChartOptions {
  mode?: DrawMode;
  unit?: string;
  decimals?: number | null;
  min?: number | null;
  max?: number | null;
  fillOpacity?: number;
  height?: number;
  legend?: boolean;
  onZoom?: (startMs: number, endMs: number) => void;
  onSeriesClick?: (s: ChartSeries) => void;
  seriesAction?: (s: ChartSeries) => { label: string; href: string } | null;
  id?: string;
  /** Series colour (default: the palette by index). */
  color?: (s: ChartSeries, i: number) => string;
  /** Bars stacked on each other (mode "bars"). */
  stackBars?: boolean;
  /** Line width in CSS pixels (default 1.5). */
  lineWidth?: number;
  /** Areas filled between two series (lines mode), as (upper, lower) indices into the data. */
  bands?: (series: ChartSeries[]) => Array<[number, number]>;
}

interface Registry {
  charts: Record<string, { uplot: uPlot; seriesCount: number; points: number; mode: DrawMode }>;
}

declare global {
  interface Window {
    __pharos: Registry & Record<string, unknown>;
  }
}

window.__pharos = window.__pharos ?? { charts: {} };
let chartSeq = 0;

// Charts given data with `setData(data, true)` are drawn together in the next animation frame:
// every legend is written first, then every plot area is measured (one layout for all), then
// every uPlot is created, so no chart's DOM writes force a layout for the next one's reads.
const pending = new Set<Chart>();
let frame = 0;
function flushPending(): void {
  frame = 0;
  const charts = [...pending];
  pending.clear();
  for (const c of charts) c.renderLegendFirst();
  const sizes = charts.map((c) => c.measure());
  charts.forEach((c, i) => c.draw(sizes[i]));
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Bars drawn from 0 to the sum of this and every later series, first series tallest: drawn in
 * order, each later (shorter) bar covers the lower part, so every series shows its own segment. */
function stackReverse(data: ChartData, shown: boolean[]): Array<Array<number | null>> {
  const acc = new Array(data.xs.length).fill(0);
  const out: Array<Array<number | null>> = new Array(data.series.length);
  for (let k = data.series.length - 1; k >= 0; k--) {
    const s = data.series[k];
    out[k] = !shown[k] ? s.values.map(() => null) : s.values.map((v, i) => {
      acc[i] += v ?? 0;
      return v === null ? null : acc[i];
    });
  }
  return out;
}

function stack(data: ChartData, shown: boolean[]): Array<Array<number | null>> {
  const acc = new Array(data.xs.length).fill(0);
  return data.series.map((s, k) => {
    if (!shown[k]) return s.values.map(() => null);
    return s.values.map((v, i) => {
      acc[i] += v ?? 0;
      return v === null ? null : acc[i];
    });
  });
}

export class Chart {
  readonly el: HTMLElement;
  private plotEl: HTMLElement;
  private legendEl: HTMLElement;
  private tooltip: HTMLElement;
  private plot: uPlot | null = null;
  private data: ChartData = { xs: [], series: [] };
  private shown: boolean[] = [];
  private observer: ResizeObserver;
  readonly id: string;

  constructor(private opts: ChartOptions = {}) {
    this.id = opts.id ?? `chart-${++chartSeq}`;
    this.plotEl = h("div", { class: "chart-plot" });
    this.tooltip = h("div", { class: "chart-tooltip", style: { display: "none" } });
    this.legendEl = h("div", { class: "chart-legend" });
    this.el = h("div", { class: "chart", "data-chart-id": this.id }, this.plotEl, this.tooltip, opts.legend === false ? null : this.legendEl);
    this.plotEl.addEventListener("mouseleave", () => (this.tooltip.style.display = "none"));
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.plotEl);
  }

  setMode(mode: DrawMode): void {
    this.opts.mode = mode;
    this.render();
  }

  /** Draw `data`: at once, or with `deferred` in the next animation frame together with every
   * other chart deferred in the meantime. */
  setData(data: ChartData, deferred = false): void {
    this.data = data;
    this.shown = data.series.map(() => true);
    if (!deferred) {
      pending.delete(this);
      this.render();
      return;
    }
    pending.add(this);
    if (!frame) frame = requestAnimationFrame(flushPending);
  }

  destroy(): void {
    pending.delete(this);
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = null;
    delete window.__pharos.charts[this.id];
  }

  /** The plot area's size: reads layout, so call it after this chart's DOM writes. */
  measure(): { width: number; height: number } {
    const width = Math.max(200, this.plotEl.clientWidth || this.el.clientWidth || 600);
    const height = this.opts.height ?? Math.max(80, this.plotEl.clientHeight || 300);
    return { width, height };
  }

  private resize(): void {
    if (!this.plot) return;
    const { width, height } = this.measure();
    if (Math.abs(this.plot.width - width) > 1 || Math.abs(this.plot.height - height) > 1) this.plot.setSize({ width, height });
  }

  private fmt = (v: number | null): string => formatValue(v, this.opts.unit, this.opts.decimals);

  render(): void {
    this.renderLegendFirst();
    this.draw(this.measure());
  }

  /** Drop the old plot and write the legend, so that the plot area is measured at its final size
   * (a legend added after the plot would shrink it and cost a second draw). */
  renderLegendFirst(): void {
    this.plot?.destroy();
    this.plot = null;
    this.renderLegend(this.fmt);
  }

  draw({ width, height }: { width: number; height: number }): void {
    this.plot?.destroy();
    this.plot = null;
    const mode = this.opts.mode ?? "lines";
    const fmt = this.fmt;
    const axisColor = cssVar("--muted");
    const gridColor = cssVar("--grid");
    const values =
      mode === "stacked" ? stack(this.data, this.shown) : mode === "bars" && this.opts.stackBars ? stackReverse(this.data, this.shown) : this.data.series.map((s) => s.values);
    const fillAlpha = mode === "stacked" ? 0.5 : Math.min(1, (this.opts.fillOpacity ?? 0) / 100);
    const bars = mode === "bars" ? uPlot.paths.bars!({ size: [0.8, 64] }) : undefined;
    const series: uPlot.Series[] = [
      {},
      ...this.data.series.map((s, i) => {
        const color = this.colorOf(i);
        return {
          label: s.name,
          stroke: color,
          width: mode === "bars" ? 0 : this.opts.lineWidth ?? 1.5,
          fill: mode === "bars" ? color : fillAlpha > 0 ? `${color}${Math.round(fillAlpha * 255).toString(16).padStart(2, "0")}` : undefined,
          show: this.shown[i],
          paths: bars,
          points: { show: false },
          spanGaps: false,
          dash: s.dash,
        } as uPlot.Series;
      }),
    ];
    const bands: uPlot.Band[] = [];
    if (mode === "stacked") {
      for (let i = this.data.series.length; i > 1; i--) bands.push({ series: [i, i - 1] });
    } else if (mode === "lines") {
      for (const [hi, lo] of this.opts.bands?.(this.data.series) ?? []) bands.push({ series: [hi + 1, lo + 1], fill: `${this.colorOf(hi)}26` });
    }
    const yRange: uPlot.Scale.Range = (_u, dmin, dmax) => {
      let lo = this.opts.min ?? (dmin === null ? 0 : Math.min(dmin, mode === "lines" ? dmin : 0));
      let hi = this.opts.max ?? (dmax === null ? 1 : dmax);
      if (lo === hi) {
        lo = lo - Math.abs(lo || 1) * 0.1;
        hi = hi + Math.abs(hi || 1) * 0.1;
      }
      const pad = (hi - lo) * 0.05;
      return [this.opts.min ?? (lo === 0 ? 0 : lo - pad), this.opts.max ?? hi + pad];
    };
    const opts: uPlot.Options = {
      width,
      height,
      series,
      bands,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } },
        {
          stroke: axisColor,
          grid: { stroke: gridColor, width: 1 },
          ticks: { stroke: gridColor },
          size: 70,
          values: (_u, splits) => splits.map((v) => fmt(v)),
        },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 5) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.opts.onZoom?.(Math.round(a * 1000), Math.round(b * 1000));
          },
        ],
        setCursor: [(u) => this.showTooltip(u)],
      },
    };
    const data = [this.data.xs, ...values] as uPlot.AlignedData;
    this.plot = new uPlot(opts, data, this.plotEl);
    let points = 0;
    for (const s of this.data.series) for (const v of s.values) if (v !== null) points++;
    window.__pharos.charts[this.id] = { uplot: this.plot, seriesCount: this.data.series.length, points, mode };
  }

  private showTooltip(u: uPlot): void {
    const idx = u.cursor.idx;
    if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
      this.tooltip.style.display = "none";
      return;
    }
    const rows: Array<[number, number]> = [];
    this.data.series.forEach((s, i) => {
      const v = s.values[idx];
      if (this.shown[i] && v !== null && v !== undefined) rows.push([i, v]);
    });
    if (rows.length === 0) {
      this.tooltip.style.display = "none";
      return;
    }
    rows.sort((a, b) => b[1] - a[1]);
    const fmt = (v: number) => formatValue(v, this.opts.unit, this.opts.decimals);
    replace(
      this.tooltip,
      h("div", { class: "tt-time" }, formatDate(this.data.xs[idx] * 1000)),
      ...rows.slice(0, 12).map(([i, v]) =>
        h("div", { class: "tt-row" }, h("span", { class: "swatch", style: { background: this.colorOf(i) } }), h("span", { class: "tt-name" }, this.data.series[i].name), h("b", null, fmt(v))),
      ),
      rows.length > 12 ? h("div", { class: "muted" }, `+${rows.length - 12} more`) : null,
    );
    this.tooltip.style.display = "block";
    const left = (u.cursor.left ?? 0) + 20;
    const w = this.plotEl.clientWidth;
    this.tooltip.style.left = `${left + 260 > w ? Math.max(0, left - 290) : left}px`;
    this.tooltip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 10)}px`;
  }

  private renderLegend(fmt: (v: number | null) => string): void {
    if (this.opts.legend === false) return;
    const items = this.data.series.map((s, i) => {
      let last: number | null = null;
      for (let k = s.values.length - 1; k >= 0 && last === null; k--) last = s.values[k];
      const action = this.opts.seriesAction?.(s);
      const item = h(
        "div",
        { class: `legend-item${this.shown[i] ? "" : " off"}`, title: "click: toggle · ctrl/⌘-click: only this one" },
        h("span", { class: "swatch", style: { background: this.colorOf(i) } }),
        h("span", { class: "legend-name" }, s.name),
        h("span", { class: "legend-value" }, fmt(last)),
        action ? h("a", { class: "legend-link", href: action.href, title: action.label, onclick: (e: Event) => e.stopPropagation() }, action.label) : null,
      );
      item.addEventListener("click", (e) => {
        const solo = (e as MouseEvent).ctrlKey || (e as MouseEvent).metaKey;
        if (solo) {
          const onlyThis = this.shown.every((v, k) => v === (k === i));
          this.shown = this.shown.map((_, k) => onlyThis || k === i);
        } else this.shown[i] = !this.shown[i];
        this.applyShown();
      });
      return item;
    });
    replace(this.legendEl, ...items);
  }

  private colorOf(i: number): string {
    return this.opts.color?.(this.data.series[i], i) ?? PALETTE[i % PALETTE.length];
  }

  private applyShown(): void {
    if (!this.plot) return;
    if ((this.opts.mode ?? "lines") === "stacked" || this.opts.stackBars) {
      this.render();
      return;
    }
    this.shown.forEach((v, i) => this.plot!.setSeries(i + 1, { show: v }));
    Array.from(this.legendEl.children).forEach((el, i) => el.classList.toggle("off", !this.shown[i]));
  }
}
