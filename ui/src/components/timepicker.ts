// Time picker: quick relative ranges, absolute from/to, zoom out, refresh and auto-refresh.

import { h, replace } from "../lib/dom";
import { QUICK_RANGES, describeRange, formatDate, parseTime, resolveRange, zoomOut, type TimeRange } from "../lib/time";

export const REFRESH_CHOICES = ["", "5s", "10s", "30s", "1m", "5m", "15m"];

export interface TimePickerOptions {
  range: TimeRange;
  refresh: string;
  onChange: (range: TimeRange) => void;
  onRefresh: () => void;
  onRefreshInterval: (every: string) => void;
}

export class TimePicker {
  readonly el: HTMLElement;
  private button: HTMLButtonElement;
  private panel: HTMLElement;
  private range: TimeRange;

  constructor(private opts: TimePickerOptions) {
    this.range = opts.range;
    this.button = h("button", { class: "btn", "data-testid": "time-picker", onclick: () => this.toggle() }, describeRange(this.range));
    this.panel = h("div", { class: "popover time-popover", style: { display: "none" } });
    const refresh = h(
      "select",
      { class: "btn", title: "auto-refresh", "data-testid": "refresh-interval", onchange: (e: Event) => opts.onRefreshInterval((e.target as HTMLSelectElement).value) },
      ...REFRESH_CHOICES.map((c) => h("option", { value: c, selected: c === opts.refresh }, c || "Off")),
    );
    this.el = h(
      "div",
      { class: "time-picker" },
      h("button", { class: "btn", title: "zoom out (Ctrl+Z)", "data-testid": "zoom-out", onclick: () => this.zoomOut() }, "⊖"),
      h("span", { class: "popover-anchor" }, this.button, this.panel),
      h("button", { class: "btn primary", title: "run / refresh", "data-testid": "refresh", onclick: () => opts.onRefresh() }, "↻"),
      refresh,
    );
    document.addEventListener("click", (e) => {
      if (!this.el.contains(e.target as Node)) this.panel.style.display = "none";
    });
  }

  set(range: TimeRange): void {
    this.range = range;
    this.button.textContent = describeRange(range);
  }

  zoomOut(): void {
    const r = zoomOut(resolveRange(this.range));
    this.choose({ from: String(r.start), to: String(r.end) });
  }

  private choose(range: TimeRange): void {
    this.set(range);
    this.panel.style.display = "none";
    this.opts.onChange(range);
  }

  private toggle(): void {
    if (this.panel.style.display !== "none") {
      this.panel.style.display = "none";
      return;
    }
    const r = resolveRange(this.range);
    const show = (t: string, ms: number) => (t.startsWith("now") ? t : formatDate(ms));
    const from = h("input", { class: "input", value: show(this.range.from, r.start), "data-testid": "time-from" });
    const to = h("input", { class: "input", value: show(this.range.to, r.end), "data-testid": "time-to" });
    const err = h("div", { class: "error-text" });
    const apply = () => {
      const now = Date.now();
      const f = parseTime(from.value, now);
      const t = parseTime(to.value, now, true);
      if (f === null || t === null || f >= t) {
        err.textContent = "Use now-1h, now/d, or YYYY-MM-DD HH:MM:SS; from must be before to.";
        return;
      }
      const norm = (s: string, ms: number) => (s.trim().startsWith("now") ? s.trim() : String(ms));
      this.choose({ from: norm(from.value, f), to: norm(to.value, t) });
    };
    replace(
      this.panel,
      h(
        "div",
        { class: "time-cols" },
        h(
          "div",
          { class: "time-abs" },
          h("h4", null, "Absolute time range"),
          h("label", null, "From", from),
          h("label", null, "To", to),
          err,
          h("button", { class: "btn primary", onclick: apply, "data-testid": "time-apply" }, "Apply time range"),
        ),
        h(
          "div",
          { class: "time-quick" },
          ...QUICK_RANGES.map((q) =>
            h("button", { class: `link${q.from === this.range.from && q.to === this.range.to ? " active" : ""}`, onclick: () => this.choose({ from: q.from, to: q.to }) }, q.label),
          ),
        ),
      ),
    );
    this.panel.style.display = "block";
  }
}
