// Explore logs: LogQL editor with a label browser, a log-volume histogram by level, log lines
// with level colours and expandable JSON/logfmt fields (with per-field value stats), newest or
// oldest first with paging, and live tail over Loki's tail WebSocket with pause/resume.
// State (query, range, order, limit, live) lives in the URL.

import { Chart, alignMatrix } from "../components/chart";
import { QueryEditor } from "../components/editor";
import { TimePicker } from "../components/timepicker";
import { lokiComplete } from "../lib/complete";
import { h, replace } from "../lib/dom";
import { loki, lokiMetricQuery, parseFields, queryLogs, tailLines, tailURL, type LogLine } from "../lib/loki";
import {
  LEVEL_COLORS,
  buildSelector,
  fieldStats,
  selectionOf,
  varyingLabels,
  volumeByLevel,
  volumeQuery,
  withFieldFilter,
  withMatcher,
  withSelector,
} from "../lib/logql";
import { autoStep, formatDate, formatDuration, resolveRange, type TimeRange } from "../lib/time";
import { param, setParams } from "../lib/url";
import { seriesName } from "../lib/variables";
import { metricsLinkFor } from "./links";

type Direction = "backward" | "forward";
const LIMITS = ["100", "500", "1000", "5000"];
const LIVE_MAX = 1000;

function lineKey(l: LogLine): string {
  return `${l.tsNs}\u0000${l.line}\u0000${JSON.stringify(l.labels)}`;
}

function formatTs(l: LogLine): string {
  return `${formatDate(l.tsMs)}.${String(l.tsMs % 1000).padStart(3, "0")}`;
}

function chips(labels: Record<string, string>, names?: string[]): HTMLElement {
  const keys = names ?? Object.keys(labels).sort();
  return h("span", { class: "chips" }, ...keys.filter((k) => labels[k] !== undefined).map((k) => h("span", { class: "chip" }, `${k}="${labels[k]}"`)));
}

export function logsPage(root: HTMLElement): () => void {
  let range: TimeRange = { from: param("from", "now-1h"), to: param("to", "now") };
  let direction: Direction = param("dir") === "forward" ? "forward" : "backward";
  let limit = LIMITS.includes(param("limit")) ? param("limit") : "100";
  let lines: LogLine[] = [];
  let seen = new Set<string>();
  let fields = new Map<LogLine, Record<string, string> | null>();
  let abort: AbortController | null = null;
  let exhausted = false;
  let ranQuery = "";
  // live tail
  let socket: WebSocket | null = null;
  let paused = false;
  let buffered: LogLine[] = [];

  const status = h("div", { class: "query-status muted", "data-testid": "query-status" });
  const editor = new QueryEditor({
    value: param("q"),
    placeholder: 'LogQL, e.g. {job="varlogs"} |= "error" | logfmt  (Shift+Enter runs)',
    onRun: () => run(),
    complete: lokiComplete,
  });
  const picker = new TimePicker({
    range,
    refresh: "",
    onChange: (r) => {
      range = r;
      void loadBrowser();
      run();
    },
    onRefresh: () => run(),
    onRefreshInterval: () => undefined,
  });
  picker.el.querySelector('[data-testid="refresh-interval"]')?.remove();

  const orderButtons = (["backward", "forward"] as Direction[]).map((d) =>
    h("button", { class: `seg${d === direction ? " active" : ""}`, "data-dir": d, onclick: () => setDirection(d) }, d === "backward" ? "Newest first" : "Oldest first"),
  );
  const limitSel = h(
    "select",
    { class: "btn", title: "lines per page", "data-testid": "logs-limit", onchange: () => ((limit = limitSel.value), run()) },
    ...LIMITS.map((n) => h("option", { value: n, selected: n === limit }, `${n} lines`)),
  );
  const liveBtn = h("button", { class: "btn", "data-testid": "live", onclick: () => (socket ? stopLive() : startLive()) }, "▶ Live");
  const pauseBtn = h("button", { class: "btn", "data-testid": "live-pause", style: { display: "none" }, onclick: () => togglePause() }, "Pause");

  const browser = h("div", { class: "card label-browser", "data-testid": "label-browser" }, h("h3", null, "Labels"), h("div", { class: "muted" }, "Loading…"));
  const volumeChart = new Chart({
    id: "logs-volume",
    mode: "bars",
    stackBars: true,
    height: 110,
    color: (s) => LEVEL_COLORS[s.name] ?? "#8e8e8e",
    onZoom: (a, b) => {
      range = { from: String(a), to: String(b) };
      picker.set(range);
      run();
    },
  });
  const metricChart = new Chart({ id: "logs-metric", mode: "lines", height: 320 });
  const volumeCard = h("div", { class: "card volume", "data-testid": "log-volume", style: { display: "none" } }, h("h3", null, "Log volume"), volumeChart.el);
  const streamsEl = h("div", { "data-testid": "log-streams" });
  const liveBar = h("div", { class: "live-bar", "data-testid": "live-status", style: { display: "none" } });
  const linesEl = h("div", { class: "log-lines", "data-testid": "log-lines" });
  const moreBtn = h("button", { class: "btn", "data-testid": "logs-more", style: { display: "none" }, onclick: () => void loadMore() });
  const main = h("div", { class: "logs-main" }, volumeCard, streamsEl, liveBar, h("div", { class: "card log-card" }, linesEl, h("div", { class: "row", style: { justifyContent: "center", marginTop: "8px" } }, moreBtn)));

  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Explore logs"), h("div", { class: "spacer" }), picker.el),
    h(
      "div",
      { class: "card" },
      editor.el,
      h(
        "div",
        { class: "row-between" },
        h("div", { class: "row" }, h("div", { class: "segmented" }, ...orderButtons), limitSel),
        h("div", { class: "row" }, status, pauseBtn, liveBtn, h("button", { class: "btn primary", onclick: () => run(), "data-testid": "run-query" }, "Run query")),
      ),
    ),
    h("div", { class: "logs-layout" }, browser, main),
  );

  // ---- label browser -------------------------------------------------------------------
  const loaders = new Map<string, () => Promise<void>>();
  async function loadBrowser() {
    let names: string[];
    try {
      names = await loki.labels(resolveRange(range));
    } catch (e) {
      replace(browser, h("h3", null, "Labels"), h("div", { class: "error-text" }, (e as Error).message));
      return;
    }
    const chosen = selectionOf(editor.value);
    loaders.clear();
    const sections = names.map((name) => {
      const vals = h("div", { class: "lvals" }, h("span", { class: "muted" }, "…"));
      const d = h("details", { class: "lgroup", "data-label": name, open: Boolean(chosen[name]) }, h("summary", { class: "lname" }, name), vals);
      let loadedFor: string | null = null;
      // Values narrowed by the other labels' chosen values (Loki's `query` parameter).
      const load = async () => {
        const sel = selectionOf(editor.value);
        const mine = sel[name] ?? [];
        delete sel[name];
        const narrow = buildSelector(sel);
        if (loadedFor === narrow) return;
        loadedFor = narrow;
        try {
          const listed = await loki.labelValues(name, resolveRange(range), narrow || undefined);
          const values = [...new Set([...mine, ...listed])].sort();
          replace(
            vals,
            values.length === 0 ? h("span", { class: "muted" }, "no values") : null,
            ...values.slice(0, 200).map((v) =>
              h("button", { class: `lval${mine.includes(v) ? " active" : ""}`, "data-value": v, title: `${name}="${v}"`, onclick: () => toggleValue(name, v) }, v),
            ),
            values.length > 200 ? h("div", { class: "muted" }, `+${values.length - 200} more`) : null,
          );
        } catch (e) {
          loadedFor = null;
          replace(vals, h("span", { class: "error-text" }, (e as Error).message));
        }
      };
      loaders.set(name, () => (d.open ? load() : Promise.resolve()));
      d.addEventListener("toggle", () => d.open && void load());
      if (d.open) void load();
      return d;
    });
    replace(
      browser,
      h("h3", null, "Labels"),
      h("div", { class: "muted small" }, "Pick values to build the stream selector."),
      names.length ? sections : h("div", { class: "muted" }, "No log streams in this range."),
    );
  }

  function toggleValue(name: string, value: string) {
    const sel = selectionOf(editor.value);
    const cur = sel[name] ?? [];
    sel[name] = cur.includes(value) ? cur.filter((v) => v !== value) : [...cur, value];
    const selector = buildSelector(sel);
    editor.value = selector ? withSelector(editor.value, selector) : "";
    browser.querySelectorAll<HTMLElement>(`[data-label] .lval`).forEach((b) => {
      const label = (b.closest("[data-label]") as HTMLElement).dataset.label!;
      b.classList.toggle("active", (sel[label] ?? []).includes(b.dataset.value!));
    });
    for (const [label, reload] of loaders) if (label !== name) void reload();
    run();
  }

  // ---- lines ---------------------------------------------------------------------------
  function fieldsOf(l: LogLine): Record<string, string> | null {
    if (!fields.has(l)) fields.set(l, parseFields(l.line));
    return fields.get(l)!;
  }

  function lineRow(l: LogLine): HTMLElement {
    const row = h(
      "div",
      { class: "log-line", "data-level": l.level, title: "click for fields" },
      h("span", { class: `lvl lvl-${l.level}` }),
      h("span", { class: "ts" }, formatTs(l)),
      h("span", { class: "msg" }, l.line),
    );
    let detail: HTMLElement | null = null;
    row.addEventListener("click", (e) => {
      if ((e.target as Element).closest(".log-fields")) return;
      if (detail) {
        detail.remove();
        detail = null;
        row.classList.remove("open");
        return;
      }
      detail = lineDetail(l);
      row.append(detail);
      row.classList.add("open");
    });
    return row;
  }

  function statsBox(key: string, from: "label" | "field"): HTMLElement {
    const rows = lines.map((x) => (from === "label" ? x.labels : fieldsOf(x)));
    const st = fieldStats(rows, key, 5);
    return h(
      "div",
      { class: "field-stats", "data-testid": "field-stats" },
      h("div", { class: "muted" }, `${key}: ${st.total} of ${lines.length} loaded lines have it`),
      ...st.values.map((v) =>
        h(
          "div",
          { class: "stat-row" },
          h("span", { class: "mono sv" }, v.value),
          h("span", { class: "bar-track" }, h("span", { class: "bar-fill", style: { width: `${v.percent}%`, background: "var(--accent)", display: "block" } })),
          h("span", { class: "num" }, `${v.percent.toFixed(1)}%`),
        ),
      ),
    );
  }

  function fieldRow(key: string, value: string, from: "label" | "field", parser: "json" | "logfmt"): HTMLElement[] {
    const statsRow = h("tr", { class: "stats-row", style: { display: "none" } }, h("td", { colspan: 3 }));
    const filter = (negate: boolean) => {
      editor.value = from === "label" ? withMatcher(editor.value, key, negate ? "!=" : "=", value) : withFieldFilter(editor.value, parser, key, value, negate);
      run();
    };
    const tr = h(
      "tr",
      { "data-field": key },
      h(
        "td",
        { class: "field-actions" },
        h("button", { class: "icon-btn", title: "filter for value", "data-testid": "filter-for", onclick: () => filter(false) }, "+"),
        h("button", { class: "icon-btn", title: "filter out value", onclick: () => filter(true) }, "−"),
        h(
          "button",
          {
            class: "icon-btn",
            title: "value stats over the loaded lines",
            "data-testid": "field-stats-toggle",
            onclick: () => {
              const show = statsRow.style.display === "none";
              if (show) replace(statsRow.firstElementChild!, statsBox(key, from));
              statsRow.style.display = show ? "" : "none";
            },
          },
          "▥",
        ),
      ),
      h("td", { class: "mono fname" }, key),
      h("td", { class: "mono fval" }, value),
    );
    return [tr, statsRow];
  }

  function lineDetail(l: LogLine): HTMLElement {
    const f = fieldsOf(l);
    const parser = l.line.trim().startsWith("{") ? "json" : "logfmt";
    const link = metricsLinkFor(l.labels, range);
    return h(
      "div",
      { class: "log-fields", "data-testid": "log-fields" },
      h("div", { class: "row-between", style: { marginTop: "0" } }, h("b", null, "Labels"), link ? h("a", { href: link.href, "data-testid": "line-metrics-link" }, "Show metrics for this stream →") : null),
      h("table", { class: "data" }, h("tbody", null, ...Object.keys(l.labels).sort().flatMap((k) => fieldRow(k, l.labels[k], "label", parser)))),
      f
        ? [
            h("b", null, parser === "json" ? "JSON fields" : "logfmt fields"),
            h("table", { class: "data", "data-testid": "parsed-fields" }, h("tbody", null, ...Object.keys(f).map((k) => fieldRow(k, f[k], "field", parser)))),
          ]
        : null,
    );
  }

  function renderStreams() {
    const streams = new Map<string, { labels: Record<string, string>; count: number }>();
    for (const l of lines) {
      const key = JSON.stringify(l.labels, Object.keys(l.labels).sort());
      const s = streams.get(key);
      if (s) s.count++;
      else streams.set(key, { labels: l.labels, count: 1 });
    }
    if (streams.size === 0) {
      replace(streamsEl);
      return;
    }
    const list = [...streams.values()].sort((a, b) => b.count - a.count);
    const shown = varyingLabels(list.map((s) => s.labels));
    const d = h(
      "details",
      { class: "card streams", open: list.length <= 6 },
      h("summary", null, h("b", null, `${list.length} stream${list.length === 1 ? "" : "s"}`), h("span", { class: "muted" }, ` · ${lines.length} lines loaded`)),
      h(
        "table",
        { class: "data" },
        h(
          "tbody",
          null,
          ...list.slice(0, 50).map((s) => {
            const link = metricsLinkFor(s.labels, range);
            const only = buildSelector(Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [k, [v]])));
            return h(
              "tr",
              { "data-testid": "stream" },
              h("td", null, chips(s.labels, shown.length ? shown : undefined)),
              h("td", { class: "num" }, String(s.count)),
              h(
                "td",
                { class: "num", style: { whiteSpace: "nowrap" } },
                h("button", { class: "link", title: only, onclick: () => ((editor.value = withSelector(editor.value, only)), run()) }, "only this"),
                link ? [" · ", h("a", { href: link.href, "data-testid": "stream-metrics-link" }, "metrics")] : null,
              ),
            );
          }),
        ),
      ),
    );
    replace(streamsEl, d);
  }

  function renderLines() {
    replace(linesEl, ...(lines.length ? lines.map(lineRow) : [h("div", { class: "empty", "data-testid": "no-data" }, "No log lines in this range.")]));
    root.dataset.lines = String(lines.length);
    renderStreams();
  }

  function addLines(more: LogLine[]): number {
    let n = 0;
    for (const l of more) {
      const k = lineKey(l);
      if (seen.has(k)) continue;
      seen.add(k);
      lines.push(l);
      n++;
    }
    return n;
  }

  function setDirection(d: Direction) {
    direction = d;
    orderButtons.forEach((b) => b.classList.toggle("active", b.dataset.dir === d));
    run();
  }

  // ---- queries -------------------------------------------------------------------------
  async function run(background = false) {
    const q = editor.value.trim();
    if (socket) stopLive(false);
    setParams({ q: q || undefined, from: range.from, to: range.to, dir: direction === "backward" ? undefined : direction, limit: limit === "100" ? undefined : limit, live: undefined }, !background);
    editor.showError(null);
    if (!q) {
      lines = [];
      replace(linesEl, h("div", { class: "empty" }, "Pick labels on the left or enter a LogQL query and press Shift+Enter."));
      replace(streamsEl);
      volumeCard.style.display = "none";
      moreBtn.style.display = "none";
      status.textContent = "";
      root.dataset.state = "idle";
      return;
    }
    abort?.abort();
    abort = new AbortController();
    const signal = abort.signal;
    root.dataset.state = "loading";
    ranQuery = q;
    const t0 = performance.now();
    const r = resolveRange(range);
    try {
      const res = await queryLogs(q, r, Number(limit), direction, signal);
      if (res.kind === "unavailable") {
        replace(linesEl, h("div", { class: "error-box" }, "This pharos has no log store."));
        root.dataset.state = "error";
        return;
      }
      if (res.resultType !== "streams") {
        await runMetric(q, r, signal);
        status.textContent = `metric query · ${Math.round(performance.now() - t0)} ms`;
        root.dataset.state = "done";
        return;
      }
      lines = [];
      seen = new Set();
      fields = new Map();
      exhausted = res.lines.length < Number(limit);
      addLines(res.lines);
      renderLines();
      updateMore();
      status.textContent = `${lines.length} line(s) · ${Math.round(performance.now() - t0)} ms`;
      root.dataset.state = "done";
      void runVolume(q, r, signal);
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      editor.showError((e as Error).message);
      status.textContent = "";
      root.dataset.state = "error";
    }
  }

  async function runMetric(q: string, r: ReturnType<typeof resolveRange>, signal: AbortSignal) {
    volumeCard.style.display = "none";
    moreBtn.style.display = "none";
    replace(streamsEl);
    lines = [];
    const step = autoStep(r, linesEl.clientWidth || 1000);
    const start = Math.ceil(r.start / step) * step;
    const data = await lokiMetricQuery(q, { start, end: r.end }, step, signal);
    const result = data.resultType === "matrix" ? data.result : [];
    const aligned = alignMatrix(result, seriesName, start / 1000, r.end / 1000, step / 1000);
    replace(linesEl, metricChart.el);
    metricChart.setData(aligned);
    if (aligned.series.length === 0) linesEl.append(h("div", { class: "empty", "data-testid": "no-data" }, "No data"));
  }

  async function runVolume(q: string, r: ReturnType<typeof resolveRange>, signal: AbortSignal) {
    const step = autoStep(r, 120);
    const start = Math.ceil(r.start / step) * step;
    try {
      const data = await lokiMetricQuery(volumeQuery(q, step), { start, end: r.end }, step, signal);
      const merged = volumeByLevel(data.resultType === "matrix" ? data.result : []);
      volumeCard.style.display = "";
      volumeCard.querySelector("h3")!.textContent = `Log volume · per ${formatDuration(step)}`;
      volumeChart.setData(alignMatrix(merged, (m) => m.level, start / 1000, r.end / 1000, step / 1000));
      root.dataset.volume = "done";
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      volumeCard.style.display = "";
      replace(volumeCard, h("h3", null, "Log volume"), h("div", { class: "muted" }, `unavailable: ${(e as Error).message}`), volumeChart.el);
      root.dataset.volume = "error";
    }
  }

  function updateMore() {
    moreBtn.style.display = lines.length && !socket ? "" : "none";
    moreBtn.disabled = exhausted;
    moreBtn.textContent = exhausted ? "No more lines in this range" : direction === "backward" ? `Load ${limit} older lines` : `Load ${limit} newer lines`;
  }

  async function loadMore() {
    if (!lines.length || exhausted || !ranQuery) return;
    const last = lines[lines.length - 1];
    const r = resolveRange(range);
    // Loki's end is exclusive and start inclusive: include the boundary and drop duplicates.
    const page = direction === "backward" ? { endNs: (BigInt(last.tsNs) + 1n).toString() } : { startNs: last.tsNs };
    moreBtn.disabled = true;
    try {
      const res = await queryLogs(ranQuery, r, Number(limit), direction, undefined, page);
      if (res.kind !== "ok") return;
      const added = addLines(res.lines);
      exhausted = added === 0 || res.lines.length < Number(limit);
      renderLines();
      status.textContent = `${lines.length} line(s)`;
    } catch (e) {
      editor.showError((e as Error).message);
    } finally {
      updateMore();
    }
  }

  // ---- live tail -----------------------------------------------------------------------
  function startLive() {
    const q = editor.value.trim();
    if (!q) return;
    abort?.abort();
    const newest = lines.reduce((m, l) => (BigInt(l.tsNs) > m ? BigInt(l.tsNs) : m), 0n);
    const floor = BigInt(Date.now() - 60_000) * 1_000_000n;
    const start = (newest >= floor ? newest + 1n : floor).toString();
    if (direction !== "backward") {
      direction = "backward"; // live shows the newest line on top
      orderButtons.forEach((b) => b.classList.toggle("active", b.dataset.dir === "backward"));
    }
    const ws = new WebSocket(tailURL(q, start, 100));
    socket = ws;
    paused = false;
    buffered = [];
    liveBtn.textContent = "■ Stop";
    liveBtn.classList.add("primary");
    pauseBtn.style.display = "";
    pauseBtn.textContent = "Pause";
    moreBtn.style.display = "none";
    liveBar.style.display = "";
    liveBar.textContent = "Live: connecting…";
    root.dataset.live = "connecting";
    setParams({ live: "1" });
    if (!lines.length) replace(linesEl);
    ws.onopen = () => {
      if (socket !== ws) return;
      liveBar.textContent = "Live: waiting for new lines…";
      root.dataset.live = "on";
    };
    ws.onmessage = (ev) => {
      if (socket !== ws) return;
      let fresh: LogLine[];
      try {
        fresh = tailLines(String(ev.data));
      } catch {
        return;
      }
      if (paused) {
        buffered.push(...fresh);
        liveBar.textContent = `Live paused · ${buffered.length} new line(s) waiting`;
        return;
      }
      showLive(fresh);
    };
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      stopLive(true);
      if (ev.code !== 1000 && ev.code !== 1005) {
        liveBar.style.display = "";
        liveBar.textContent = "";
        liveBar.append(h("span", { class: "error-text" }, `Live tail ended: ${ev.reason || `connection closed (${ev.code})`}`));
      }
    };
  }

  function showLive(fresh: LogLine[]) {
    const rows: HTMLElement[] = [];
    for (const l of fresh) {
      const k = lineKey(l);
      if (seen.has(k)) continue;
      seen.add(k);
      lines.unshift(l);
      rows.unshift(lineRow(l));
    }
    if (!rows.length) return;
    linesEl.querySelector(".empty")?.remove();
    linesEl.prepend(...rows);
    while (lines.length > LIVE_MAX) {
      lines.pop();
      linesEl.lastElementChild?.remove();
    }
    root.dataset.lines = String(lines.length);
    liveBar.textContent = `Live · ${lines.length} line(s) · last at ${formatTs(lines[0])}`;
    status.textContent = `${lines.length} line(s) · live`;
    renderStreams();
  }

  function togglePause() {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    root.dataset.live = paused ? "paused" : "on";
    if (!paused) {
      const b = buffered;
      buffered = [];
      showLive(b);
      if (!b.length) liveBar.textContent = "Live: waiting for new lines…";
    } else liveBar.textContent = "Live paused · 0 new line(s) waiting";
  }

  function stopLive(updateUrl = true) {
    const ws = socket;
    socket = null;
    ws?.close(1000);
    liveBtn.textContent = "▶ Live";
    liveBtn.classList.remove("primary");
    pauseBtn.style.display = "none";
    liveBar.style.display = "none";
    root.dataset.live = "off";
    if (updateUrl) setParams({ live: undefined });
    updateMore();
  }

  void loadBrowser();
  const wantLive = param("live") === "1";
  void run(true).then(() => {
    if (wantLive && editor.value.trim()) startLive();
  });
  return () => {
    abort?.abort();
    const ws = socket;
    socket = null;
    ws?.close(1000);
    volumeChart.destroy();
    metricChart.destroy();
  };
}
