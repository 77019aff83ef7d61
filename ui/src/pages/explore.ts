// Explore metrics: PromQL editor, graph (lines/stacked/bars) or table, time picker, auto-refresh.

import { Chart, alignMatrix, type DrawMode } from "../components/chart";
import { QueryEditor } from "../components/editor";
import { TimePicker } from "../components/timepicker";
import { ApiError, prom, type QueryData } from "../lib/api";
import { promComplete } from "../lib/complete";
import { h, replace } from "../lib/dom";
import { autoStep, formatDate, formatDuration, parseDuration, resolveRange, type TimeRange } from "../lib/time";
import { param, setParams } from "../lib/url";
import { seriesName } from "../lib/variables";
import { logsLinkFor } from "./links";

export function explorePage(root: HTMLElement): () => void {
  let range: TimeRange = { from: param("from", "now-1h"), to: param("to", "now") };
  let mode = (param("mode", "lines") as DrawMode) || "lines";
  let tab = param("tab", "graph");
  let refreshEvery = param("refresh", "");
  let timer: ReturnType<typeof setInterval> | undefined;
  let abort: AbortController | null = null;

  const status = h("div", { class: "query-status muted", "data-testid": "query-status" });
  const chart = new Chart({
    id: "explore",
    mode,
    height: 360,
    onZoom: (a, b) => {
      range = { from: String(a), to: String(b) };
      picker.set(range);
      run();
    },
    seriesAction: (s) => logsLinkFor(s.labels, range),
  });
  const table = h("div", { class: "table-wrap", "data-testid": "result-table" });
  const editor = new QueryEditor({
    value: param("q"),
    placeholder: "PromQL, e.g. rate(pharos_samples_scraped_total[5m])  (Shift+Enter runs)",
    onRun: () => run(),
    complete: promComplete,
  });
  const picker = new TimePicker({
    range,
    refresh: refreshEvery,
    onChange: (r) => {
      range = r;
      run();
    },
    onRefresh: () => run(),
    onRefreshInterval: (every) => {
      refreshEvery = every;
      schedule();
      setParams({ refresh: every || undefined });
    },
  });
  const modeButtons = (["lines", "stacked", "bars"] as DrawMode[]).map((m) =>
    h("button", { class: `seg${m === mode ? " active" : ""}`, "data-mode": m, onclick: () => setMode(m) }, m[0].toUpperCase() + m.slice(1)),
  );
  const tabButtons = ["graph", "table"].map((t) =>
    h("button", { class: `tab${t === tab ? " active" : ""}`, "data-tab": t, onclick: () => setTab(t) }, t === "graph" ? "Graph" : "Table"),
  );
  const graphView = h("div", { class: "graph-view" }, h("div", { class: "segmented" }, ...modeButtons), chart.el);
  const body = h("div", { class: "explore-body" });

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Explore metrics"), h("div", { class: "spacer" }), picker.el),
    h("div", { class: "card" }, editor.el, h("div", { class: "row-between" }, h("div", { class: "tabs" }, ...tabButtons), h("div", { class: "row" }, status, h("button", { class: "btn primary", onclick: () => run(), "data-testid": "run-query" }, "Run query")))),
    body,
  );

  function setMode(m: DrawMode) {
    mode = m;
    modeButtons.forEach((b) => b.classList.toggle("active", b.dataset.mode === m));
    chart.setMode(m);
    setParams({ mode: m === "lines" ? undefined : m });
  }
  function setTab(t: string) {
    tab = t;
    tabButtons.forEach((b) => b.classList.toggle("active", b.dataset.tab === t));
    setParams({ tab: t === "graph" ? undefined : t });
    run();
  }
  function schedule() {
    if (timer) clearInterval(timer);
    timer = undefined;
    const ms = parseDuration(refreshEvery);
    if (ms && ms > 0) timer = setInterval(() => run(true), ms);
  }

  async function run(background = false) {
    const q = editor.value.trim();
    setParams({ q: q || undefined, from: range.from, to: range.to }, !background);
    editor.showError(null);
    if (!q) {
      replace(body, h("div", { class: "empty" }, "Enter a PromQL expression and press Shift+Enter."));
      root.dataset.state = "idle";
      return;
    }
    abort?.abort();
    abort = new AbortController();
    root.dataset.state = "loading";
    const t0 = performance.now();
    const r = resolveRange(range);
    try {
      if (tab === "table") {
        const data = await prom.query(q, r.end, abort.signal);
        renderTable(data);
        status.textContent = `${resultCount(data)} result(s) · ${Math.round(performance.now() - t0)} ms`;
      } else {
        const width = chart.el.clientWidth || body.clientWidth || 1000;
        const step = autoStep(r, width);
        const alignedStart = Math.ceil(r.start / step) * step;
        const data = await prom.queryRange(q, alignedStart, r.end, step, abort.signal);
        if (data.resultType !== "matrix") throw new ApiError(`expected a range vector result, got ${data.resultType}`, 200);
        const aligned = alignMatrix(data.result, seriesName, alignedStart / 1000, r.end / 1000, step / 1000);
        replace(body, graphView);
        chart.setData(aligned);
        if (aligned.series.length === 0) graphView.append(h("div", { class: "empty no-data", "data-testid": "no-data" }, "No data"));
        else graphView.querySelector(".no-data")?.remove();
        status.textContent = `${aligned.series.length} series · step ${formatDuration(step)} · ${Math.round(performance.now() - t0)} ms`;
      }
      root.dataset.state = "done";
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      editor.showError((e as Error).message);
      status.textContent = "";
      root.dataset.state = "error";
    }
  }

  function resultCount(d: QueryData): number {
    return d.resultType === "vector" || d.resultType === "matrix" ? d.result.length : 1;
  }

  function renderTable(d: QueryData) {
    const rows: Array<[string, string]> = [];
    if (d.resultType === "vector") for (const s of d.result) rows.push([seriesName(s.metric), s.value?.[1] ?? ""]);
    else if (d.resultType === "matrix") for (const s of d.result) rows.push([seriesName(s.metric), (s.values ?? []).map(([t, v]) => `${v} @${t}`).join("\n")]);
    else rows.push([d.resultType, d.result[1]]);
    replace(
      table,
      rows.length === 0
        ? h("div", { class: "empty", "data-testid": "no-data" }, "No data")
        : h("table", { class: "data" }, h("thead", null, h("tr", null, h("th", null, "Series"), h("th", { class: "num" }, `Value at ${formatDate(resolveRange(range).end)}`))), h("tbody", null, ...rows.map(([n, v]) => h("tr", null, h("td", { class: "mono" }, n), h("td", { class: "num mono" }, v))))),
    );
    replace(body, table);
  }

  const onKey = (e: KeyboardEvent) => {
    if (e.key === "z" && (e.ctrlKey || e.metaKey) && document.activeElement !== editor.input) {
      e.preventDefault();
      picker.zoomOut();
    }
  };
  document.addEventListener("keydown", onKey);
  schedule();
  void run(true);
  return () => {
    if (timer) clearInterval(timer);
    abort?.abort();
    chart.destroy();
    document.removeEventListener("keydown", onKey);
  };
}
