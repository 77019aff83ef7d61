// Monitors: the list (state, groups, mute, last transition; filter by state, type and name) and
// one monitor (definition, groups, a chart of its query with thresholds or band, state history,
// notifications; edit, mute, delete). API: /api/pharos/v1/monitors.

import { Chart, PALETTE, alignMatrix, type ChartSeries } from "../components/chart";
import { labelChips } from "../components/labels";
import { monitorEditor } from "../components/monitorform";
import { getJSON, prom, sendJSON, type MatrixSeries } from "../lib/api";
import { confirmButton, h, loadInto, replace } from "../lib/dom";
import { lokiMetricQuery } from "../lib/loki";
import {
  API,
  STATES,
  TYPES,
  type Definition,
  type History,
  type MonitorDetail,
  type MonitorState,
  type MonitorSummary,
  type MonitorType,
  type Role,
  type Transition,
  bandPairs,
  chartQueries,
  fieldsFor,
  filterMonitors,
  formFromDefinition,
  groupName,
  seriesKey,
  stateClass,
  stateCounts,
  thresholdLines,
} from "../lib/monitors";
import { TimePicker } from "../components/timepicker";
import { ago, autoStep, formatDate, formatDuration, parseDuration, resolveRange, type TimeRange } from "../lib/time";
import { formatValue } from "../lib/units";
import { navigate, param, setParams } from "../lib/url";
import { seriesName } from "../lib/variables";

const REFRESH_MS = 5_000;
const LEVEL_COLORS = { critical: "#c4162a", warning: "#ff9830" };
const MUTE_CHOICES: Array<[string, string]> = [["", "until unmuted"], ["1h", "for 1h"], ["4h", "for 4h"], ["1d", "for 1 day"], ["1w", "for 1 week"]];

// What a group's value is, where it is not the query's value.
const VALUE_NAMES: Partial<Record<MonitorType, string>> = { anomaly: "Anomalous points", forecast: "Band extreme", outlier: "Outlier" };

function valueText(type: MonitorType, v: number | null): string {
  return type === "anomaly" && v !== null ? `${formatValue(v * 100)}%` : formatValue(v);
}

function stateBadge(state: MonitorState | null, testid = "monitor-state"): HTMLElement {
  return h("span", { class: `badge state ${stateClass(state)}`, "data-testid": testid, "data-state": state ?? "" }, state ?? "not evaluated");
}

function monitorHref(name: string): string {
  return `/monitors/${encodeURIComponent(name)}`;
}

function transitionText(t: Transition): string {
  return `${t.from} → ${t.to}${Object.keys(t.labels).length ? ` ${groupName(t.labels)}` : ""}`;
}

function openEditor(initial: Definition | null, type: MonitorType, names: string[], done: (saved: string) => void): void {
  document.body.append(
    monitorEditor(initial, type, names, (saved) => {
      setParams({ new: undefined, edit: undefined });
      if (saved) done(saved);
    }),
  );
}

function closeModals(): void {
  document.querySelectorAll(".modal-back").forEach((m) => m.remove());
}

// ---- the list ----------------------------------------------------------------------------------

export function monitorsPage(root: HTMLElement): () => void {
  const body = h("div", { "data-testid": "monitors" }, h("div", { class: "empty" }, "Loading…"));
  const err = h("div", { class: "error-text" });
  const filter = h("input", { class: "input", placeholder: "filter by name", value: param("q"), "data-testid": "monitors-filter" });
  const typeSel = h("select", { class: "btn", "data-testid": "monitors-type" }, h("option", { value: "" }, "all types"), ...TYPES.map((t) => h("option", { value: t, selected: t === param("type") }, t)));
  let state = param("state");
  const stateButtons = ["", ...STATES].map((s) => h("button", { class: `seg${s === state ? " active" : ""}`, "data-state-filter": s, onclick: () => setState(s) }, s || "All"));
  root.append(
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Monitors"),
      h("div", { class: "spacer" }),
      h("div", { class: "segmented" }, ...stateButtons),
      typeSel,
      filter,
      h("button", { class: "btn primary", "data-testid": "new-monitor", onclick: () => create() }, "New monitor"),
    ),
    err,
    body,
  );
  let monitors: MonitorSummary[] = [];

  function create(): void {
    setParams({ new: "1" });
    openEditor(null, (typeSel.value || "metric") as MonitorType, monitors.map((m) => m.name), (name) => navigate(monitorHref(name)));
  }

  function setState(s: string): void {
    state = s;
    stateButtons.forEach((b) => b.classList.toggle("active", b.dataset.stateFilter === s));
    setParams({ state: s || undefined });
    render();
  }

  function groupsCell(m: MonitorSummary): HTMLElement {
    const grouped = m.group_states.some((g) => Object.keys(g.labels).length > 0);
    if (!grouped) return h("td", { class: "muted small" }, m.group_states.length ? "" : "no data yet");
    const bad = m.group_states.filter((g) => g.state !== "OK");
    return h(
      "td",
      { "data-testid": "monitor-groups" },
      h("div", { class: "row" }, ...stateCounts(m.group_states).map(([s, n]) => h("span", { class: `badge ${stateClass(s)}`, "data-group-state": s }, `${n} ${s}`))),
      bad.slice(0, 5).map((g) => h("div", { class: "row small" }, h("span", { class: `dot ${stateClass(g.state)}` }), labelChips(g.labels))),
      bad.length > 5 ? h("div", { class: "muted small" }, `+${bad.length - 5} more`) : null,
    );
  }

  function row(m: MonitorSummary): HTMLElement {
    const t = m.last_transition;
    return h(
      "tr",
      { "data-testid": "monitor", "data-monitor": m.name, "data-state": m.state ?? "" },
      h("td", null, stateBadge(m.state)),
      h(
        "td",
        null,
        h("div", { class: "row" }, h("a", { href: monitorHref(m.name), "data-testid": "monitor-link" }, h("b", null, m.name)), h("span", { class: "tag" }, m.type), m.source === "config" ? h("span", { class: "tag", title: "defined in pharos.yml" }, "config") : null, m.muted ? h("span", { class: "badge", "data-testid": "muted" }, "muted") : null),
        h("div", { class: "mono small muted rule-query" }, m.query),
        m.error ? h("div", { class: "error-text small" }, m.error) : null,
      ),
      groupsCell(m),
      h("td", { "data-testid": "last-transition", title: t?.at ?? "" }, t ? [h("div", null, transitionText(t)), h("div", { class: "muted small", "data-ago": t.at ?? "" }, ago(t.at ?? undefined))] : h("span", { class: "muted" }, "none")),
      h("td", { title: m.last_evaluation ?? "", "data-ago": m.last_evaluation ?? "" }, ago(m.last_evaluation ?? undefined)),
    );
  }

  function render(): void {
    const shown = filterMonitors(monitors, { q: filter.value, state, type: typeSel.value });
    const counts = new Map(stateCounts(monitors.filter((m) => m.state !== null) as Array<{ state: MonitorState }>));
    stateButtons.forEach((b) => {
      const s = b.dataset.stateFilter as MonitorState | "";
      b.textContent = s ? `${s} (${counts.get(s) ?? 0})` : `All (${monitors.length})`;
    });
    replace(
      body,
      shown.length
        ? h(
            "div",
            { class: "table-wrap" },
            h("table", { class: "data monitors" }, h("thead", null, h("tr", null, ...["State", "Monitor", "Groups", "Last transition", "Evaluated"].map((c) => h("th", null, c)))), h("tbody", null, ...shown.map(row))),
          )
        : h("div", { class: "empty", "data-testid": "no-monitors" }, monitors.length ? "No monitors match." : "No monitors yet: create one, or define them under monitors: in pharos.yml."),
    );
  }

  // A refresh that changed only evaluation times updates those cells: the rows stay (a click
  // in progress is not lost to a re-render).
  let shape = "";
  const load = () =>
    loadInto(root, err, async () => {
      monitors = (await getJSON<{ monitors: MonitorSummary[] }>(API)).monitors;
      const next = JSON.stringify(monitors.map((m) => ({ ...m, last_evaluation: null })));
      if (next !== shape) {
        shape = next;
        render();
        return;
      }
      for (const m of monitors) {
        const cell = body.querySelector<HTMLElement>(`tr[data-monitor="${CSS.escape(m.name)}"] td[data-ago]`);
        if (cell) cell.dataset.ago = m.last_evaluation ?? "";
      }
      body.querySelectorAll<HTMLElement>("[data-ago]").forEach((el) => (el.textContent = ago(el.dataset.ago || undefined)));
    });
  filter.addEventListener("input", () => {
    setParams({ q: filter.value || undefined });
    render();
  });
  typeSel.addEventListener("change", () => {
    setParams({ type: typeSel.value || undefined });
    render();
  });
  void load().then(() => param("new") === "1" && create());
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => {
    clearInterval(timer);
    closeModals();
  };
}

// ---- one monitor -------------------------------------------------------------------------------

interface Drawn {
  series: ChartSeries[];
  roles: Role[];
  colors: string[];
}

/** The chart's series: each query's result on one grid, thresholds as flat lines. */
async function chartData(def: Definition, start: number, end: number, step: number, signal: AbortSignal): Promise<{ xs: number[]; drawn: Drawn }> {
  const queries = chartQueries(def);
  const results = await Promise.all(
    queries.map(async (q) => {
      const data = q.lang === "logql" ? await lokiMetricQuery(q.expr, { start, end }, step, signal, String(def.tenant ?? "fake")) : await prom.queryRange(q.expr, start, end, step, signal);
      return data.resultType === "matrix" ? data.result : ([] as MatrixSeries[]);
    }),
  );
  const xsOf = (r: MatrixSeries[]) => alignMatrix(r, seriesName, start / 1000, end / 1000, step / 1000);
  const drawn: Drawn = { series: [], roles: [], colors: [] };
  const colorOf = new Map<string, string>();
  const outlying = new Set((results[queries.findIndex((q) => q.role === "outliers")] ?? []).map((s) => seriesKey(s.metric)));
  let xs: number[] = [];
  queries.forEach((q, i) => {
    if (q.role === "outliers") return;
    const aligned = xsOf(results[i]);
    xs = aligned.xs;
    for (const s of aligned.series) {
      const key = seriesKey(s.labels);
      if (!colorOf.has(key)) colorOf.set(key, PALETTE[colorOf.size % PALETTE.length]);
      const color = def.type === "outlier" ? (outlying.has(key) ? LEVEL_COLORS.critical : "#8e8e8e") : colorOf.get(key)!;
      drawn.series.push(q.role === "value" ? s : { ...s, name: `${q.label} ${key}`, dash: [4, 3] });
      drawn.roles.push(q.role);
      drawn.colors.push(color);
    }
  });
  for (const t of thresholdLines(def)) {
    drawn.series.push({ name: t.name, labels: {}, values: xs.map(() => t.value), dash: t.recovery ? [2, 4] : [8, 4] });
    drawn.roles.push("value");
    drawn.colors.push(LEVEL_COLORS[t.level]);
  }
  return { xs, drawn };
}

/** The definition as the form names its fields (only the type's own, unset ones left out). */
function definitionTable(def: Definition): HTMLElement {
  const form = formFromDefinition(def);
  const rows = fieldsFor(def.type)
    .filter((f) => f.key !== "name" && form[f.key] !== undefined && form[f.key] !== "")
    .map((f) => h("tr", { "data-key": f.key }, h("th", null, f.label.replace(/ \(.*\)$/, "")), h("td", { class: f.kind === "query" || f.kind === "template" ? "mono rule-query" : "" }, String(form[f.key]))));
  return h("table", { class: "data kv", "data-testid": "monitor-definition" }, h("tbody", null, h("tr", null, h("th", null, "Type"), h("td", null, def.type)), ...rows));
}

export function monitorPage(root: HTMLElement, match: RegExpExecArray): () => void {
  const name = decodeURIComponent(match[1]);
  const url = `${API}/${encodeURIComponent(name)}`;
  let range: TimeRange = { from: param("from", "now-1h"), to: param("to", "now") };
  let detail: MonitorDetail | null = null;
  let abort: AbortController | null = null;
  let chartDef = "";
  let drawn: Drawn = { series: [], roles: [], colors: [] };
  let refreshEvery = param("refresh", "");
  let chartTimer: ReturnType<typeof setInterval> | undefined;

  const head = h("div", { class: "page-head" }, h("h1", null, name));
  const actionsEl = h("div", { class: "row" });
  const err = h("div", { class: "error-text", "data-testid": "monitor-page-error" });
  const info = h("div");
  const chartStatus = h("div", { class: "muted small", "data-testid": "chart-status" });
  const chart = new Chart({
    id: "monitor",
    height: 300,
    color: (_s, i) => drawn.colors[i] ?? PALETTE[i % PALETTE.length],
    bands: (series) => bandPairs(series.map((s, i) => ({ role: drawn.roles[i], labels: s.labels }))),
    onZoom: (a, b) => {
      range = { from: String(a), to: String(b) };
      picker.set(range);
      void drawChart();
    },
  });
  const picker = new TimePicker({
    range,
    refresh: refreshEvery,
    onChange: (r) => {
      range = r;
      void drawChart();
    },
    onRefresh: () => void drawChart(),
    onRefreshInterval: (every) => {
      refreshEvery = every;
      setParams({ refresh: every || undefined });
      scheduleChart();
    },
  });
  const chartCard = h("div", { class: "card", "data-testid": "monitor-chart", style: { display: "none" } }, h("div", { class: "row-between", style: { marginTop: "0" } }, h("h3", null, "Query"), h("div", { class: "row" }, chartStatus, picker.el)), chart.el);
  const history = h("div", { "data-testid": "monitor-history" }, h("div", { class: "empty" }, "Loading…"));
  const notes = h("div", { "data-testid": "monitor-notifications" });
  const groupsEl = h("div", { class: "card" });
  const definitionEl = h("div", { class: "card" });
  root.append(
    head,
    err,
    info,
    chartCard,
    h(
      "div",
      { class: "monitor-cols" },
      h("div", null, groupsEl, h("div", { class: "card" }, h("h3", null, "State history"), history), h("details", { class: "card" }, h("summary", null, h("b", null, "Notifications")), notes)),
      h("div", null, definitionEl),
    ),
  );

  function scheduleChart(): void {
    if (chartTimer) clearInterval(chartTimer);
    const ms = parseDuration(refreshEvery);
    chartTimer = ms && ms > 0 ? setInterval(() => void drawChart(), ms) : undefined;
  }

  async function drawChart(): Promise<void> {
    if (!detail) return;
    const def = detail.definition;
    chartCard.style.display = chartQueries(def).length ? "" : "none";
    if (!chartQueries(def).length) return;
    setParams({ from: range.from, to: range.to });
    abort?.abort();
    abort = new AbortController();
    const r = resolveRange(range);
    const floor = Number((def[def.type] as { step?: number } | undefined)?.step ?? 0) * 1000;
    const step = Math.max(autoStep(r, chart.el.clientWidth || 1000), floor);
    const start = Math.ceil(r.start / step) * step;
    root.dataset.chart = "loading";
    try {
      const got = await chartData(def, start, r.end, step, abort.signal);
      drawn = got.drawn;
      chart.setData({ xs: got.xs, series: drawn.series });
      const bands = drawn.roles.filter((x) => x === "upper").length;
      chartStatus.textContent = `${drawn.series.length} series${bands ? ` · ${bands} band${bands === 1 ? "" : "s"}` : ""} · step ${formatDuration(step)}`;
      root.dataset.chart = "done";
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      chartStatus.textContent = (e as Error).message;
      root.dataset.chart = "error";
    }
  }

  async function act(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
      await load();
    } catch (e) {
      err.textContent = (e as Error).message;
    }
  }

  function actions(d: MonitorDetail): HTMLElement {
    const muteFor = h("select", { class: "btn", "data-testid": "mute-for" }, ...MUTE_CHOICES.map(([v, label]) => h("option", { value: v }, label)));
    const mute = () => {
      const ms = parseDuration(muteFor.value);
      return sendJSON("POST", `${url}/mute`, ms ? { end: (Date.now() + ms) / 1000 } : {});
    };
    const del = confirmButton("Delete", { class: "btn danger", "data-testid": "monitor-delete" }, () =>
      void sendJSON("DELETE", url).then(
        () => navigate("/monitors"),
        (e: Error) => (err.textContent = e.message),
      ),
    );
    const editable = d.source === "api";
    return h(
      "div",
      { class: "row" },
      d.muted
        ? h("button", { class: "btn", "data-testid": "monitor-unmute", onclick: () => void act(() => sendJSON("POST", `${url}/unmute`)) }, "Unmute")
        : [muteFor, h("button", { class: "btn", "data-testid": "monitor-mute", onclick: () => void act(mute) }, "Mute")],
      editable ? h("button", { class: "btn", "data-testid": "monitor-edit", onclick: () => edit() }, "Edit") : h("span", { class: "muted small", title: "monitors of pharos.yml are read-only here" }, "defined in pharos.yml"),
      editable ? del : null,
    );
  }

  function edit(): void {
    if (!detail) return;
    setParams({ edit: "1" });
    const def = detail.definition;
    void getJSON<{ monitors: MonitorSummary[] }>(API)
      .then((r) => r.monitors.map((m) => m.name).filter((n) => n !== name))
      .catch(() => [])
      .then((names) => openEditor(def, def.type, names, () => void load()));
  }

  let actionsKey = "";
  function renderInfo(d: MonitorDetail): void {
    // The buttons are kept between refreshes (a chosen mute duration, a pending confirm).
    const key = `${d.muted}|${d.source}`;
    if (key !== actionsKey) {
      actionsKey = key;
      replace(actionsEl, actions(d));
    }
    replace(
      head,
      h("a", { href: "/monitors", class: "muted" }, "Monitors ›"),
      h("h1", null, d.name),
      stateBadge(d.state),
      h("span", { class: "tag" }, d.type),
      d.muted ? h("span", { class: "badge", "data-testid": "muted" }, d.mute_end ? `muted until ${formatDate(Date.parse(d.mute_end))}` : "muted") : null,
      h("div", { class: "spacer" }),
      actionsEl,
    );
    const groups = h(
      "table",
      { class: "data", "data-testid": "monitor-groups" },
      h("thead", null, h("tr", null, ...["Group", "State", "Since", VALUE_NAMES[d.type] ?? "Value"].map((c, i) => h("th", { class: i === 3 ? "num" : "" }, c)))),
      h(
        "tbody",
        null,
        ...d.groups.map((g) =>
          h(
            "tr",
            { "data-testid": "group", "data-state": g.state },
            h("td", null, Object.keys(g.labels).length ? labelChips(g.labels) : h("span", { class: "muted" }, "(all)"), g.evaluated ? null : h("span", { class: "muted small" }, " new-group delay")),
            h("td", null, stateBadge(g.state, "group-state")),
            h("td", { title: g.since ?? "" }, g.since ? ago(g.since) : ""),
            h("td", { class: "num mono" }, valueText(d.type, g.value)),
          ),
        ),
      ),
    );
    replace(info, d.error ? h("div", { class: "error-box", "data-testid": "monitor-eval-error" }, `Last evaluation failed: ${d.error}`) : null);
    replace(groupsEl, h("h3", null, "Groups"), d.groups.length ? groups : h("div", { class: "empty" }, d.state === null ? "Not evaluated yet." : "No data."), h("div", { class: "muted small" }, `last evaluation ${ago(d.last_evaluation ?? undefined)}`));
    replace(definitionEl, h("h3", null, "Definition"), definitionTable(d.definition));
  }

  function renderHistory(hist: History): void {
    const rows = [...hist.transitions].reverse();
    replace(
      history,
      rows.length
        ? h(
            "table",
            { class: "data" },
            h("thead", null, h("tr", null, ...["Time", "Group", "Transition", "Value"].map((c) => h("th", { class: c === "Value" ? "num" : "" }, c)))),
            h(
              "tbody",
              null,
              ...rows.map((t) =>
                h(
                  "tr",
                  { "data-testid": "transition", "data-from": t.from, "data-to": t.to },
                  h("td", { title: t.at ?? "" }, formatDate(t.at_ms)),
                  h("td", null, Object.keys(t.labels).length ? labelChips(t.labels) : h("span", { class: "muted" }, "(all)")),
                  h("td", null, stateBadge(t.from, "from"), " → ", stateBadge(t.to, "to")),
                  h("td", { class: "num mono" }, valueText(detail?.type ?? "metric", t.value)),
                ),
              ),
            ),
          )
        : h("div", { class: "empty" }, "No transitions yet."),
    );
    replace(
      notes,
      hist.notifications.length
        ? h("table", { class: "data" }, h("tbody", null, ...[...hist.notifications].reverse().map((n) => h("tr", { "data-testid": "notification" }, h("td", null, n.at ? formatDate(Date.parse(n.at)) : ""), h("td", null, h("span", { class: "tag" }, n.kind), n.occurrence ? ` #${n.occurrence}` : ""), h("td", null, stateBadge(n.state, "note-state")), h("td", { class: "ann" }, n.message)))))
        : h("div", { class: "empty" }, "No notifications."),
    );
  }

  const load = () =>
    loadInto(root, err, async () => {
      const [d, hist] = await Promise.all([getJSON<MonitorDetail>(url), getJSON<History>(`${url}/history`)]);
      detail = d;
      renderInfo(d);
      renderHistory(hist);
      const defText = JSON.stringify(d.definition);
      if (defText !== chartDef) {
        chartDef = defText;
        void drawChart();
      }
    });

  void load().then(() => param("edit") === "1" && edit());
  scheduleChart();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => {
    clearInterval(timer);
    if (chartTimer) clearInterval(chartTimer);
    abort?.abort();
    chart.destroy();
    closeModals();
  };
}
