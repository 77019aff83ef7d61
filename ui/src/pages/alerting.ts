// Alerts (grouped as the Alertmanager groups them, plus pending alerts from the rules), silences
// (create from an alert, edit, expire) and rule groups (health, last evaluation).
// APIs: /api/v2/alerts/groups, /api/v2/alerts, /api/v2/silences, /api/v2/silence/<id>,
// /api/v1/alerts, /api/v1/rules.

import { getJSON, sendJSON } from "../lib/api";
import { confirmButton, h, loadInto, replace } from "../lib/dom";
import {
  type AmMatcher,
  type Silence,
  filterParams,
  matcherText,
  matchersFromFilter,
  silenceFilter,
  silenceState,
} from "../lib/alerting";
import { ago, formatDate, formatDuration, parseDuration, parseTime } from "../lib/time";
import { labelChips } from "../components/labels";
import { param, setParams } from "../lib/url";

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  generatorURL?: string;
  receivers: Array<{ name: string }>;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}
interface AmGroup {
  labels: Record<string, string>;
  receiver: { name: string };
  alerts: AmAlert[];
}
interface RuleAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt?: string;
  value?: string;
}
interface Rule {
  name: string;
  query: string;
  type: "alerting" | "recording";
  health: string;
  lastError?: string;
  lastEvaluation?: string;
  evaluationTime?: number;
  state?: string;
  duration?: number;
  keepFiringFor?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  alerts?: RuleAlert[];
}
interface RuleGroup {
  name: string;
  file: string;
  interval: number;
  lastEvaluation?: string;
  evaluationTime?: number;
  rules: Rule[];
  limit?: number;
}

function annotationsView(ann: Record<string, string>): HTMLElement | null {
  const keys = Object.keys(ann);
  if (!keys.length) return null;
  const order = ["summary", "description", ...keys.filter((k) => k !== "summary" && k !== "description").sort()];
  return h(
    "div",
    { class: "annotations" },
    ...order
      .filter((k) => ann[k] !== undefined)
      .map((k) =>
        h("div", { class: "ann" }, h("span", { class: "muted" }, `${k}: `), /^https?:\/\//.test(ann[k]) ? h("a", { href: ann[k], target: "_blank", rel: "noreferrer" }, ann[k]) : h("span", null, ann[k])),
      ),
  );
}

/** A generatorURL of this pharos (`/graph?g0.expr=...`) as an Explore link. */
function sourceLink(url: string | undefined): HTMLElement | null {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    const expr = u.searchParams.get("g0.expr");
    if (expr) return h("a", { href: `/explore?${new URLSearchParams({ q: expr, from: "now-1h", to: "now" })}` }, "source query");
    return h("a", { href: url, target: "_blank", rel: "noreferrer" }, "source");
  } catch {
    return null;
  }
}

function silenceHref(labels: Record<string, string>): string {
  return `/silences?${new URLSearchParams({ create: "1", filter: silenceFilter(labels) })}`;
}

// ---- Alerts ----------------------------------------------------------------------------------

export function alertsPage(root: HTMLElement): () => void {
  const filter = h("input", { class: "input wide-input", placeholder: '{severity="critical"}', value: param("filter"), "data-testid": "alerts-filter" });
  const showSilenced = h("input", { type: "checkbox", checked: param("silenced") === "1" });
  const showInhibited = h("input", { type: "checkbox", checked: param("inhibited") === "1" });
  const firing = h("div", { "data-testid": "alert-groups" }, h("div", { class: "empty" }, "Loading…"));
  const pending = h("div", { "data-testid": "pending-alerts" });
  const err = h("div", { class: "error-text" });
  root.append(
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Alerts"),
      h("div", { class: "spacer" }),
      h("label", { class: "row" }, showSilenced, "Silenced"),
      h("label", { class: "row" }, showInhibited, "Inhibited"),
      filter,
      h("button", { class: "btn primary", onclick: () => void load(), "data-testid": "alerts-apply" }, "Filter"),
    ),
    err,
    h("h2", { class: "section" }, "Firing", h("span", { class: "muted small" }, " · as the Alertmanager groups them")),
    firing,
    h("h2", { class: "section" }, "Pending", h("span", { class: "muted small" }, " · waiting out their rule's for: duration")),
    pending,
  );

  const addFilter = (k: string, v: string) => {
    const cur = matchersFromFilter(filter.value).filter((m) => m.name !== k);
    cur.push({ name: k, value: v, isRegex: false, isEqual: true });
    filter.value = `{${cur.map(matcherText).join(", ")}}`;
    void load();
  };

  function alertCard(a: AmAlert): HTMLElement {
    const st = a.status.state;
    const silenced = a.status.silencedBy.length > 0;
    const inhibited = a.status.inhibitedBy.length > 0;
    const badge = silenced ? h("span", { class: "badge" }, "silenced") : inhibited ? h("span", { class: "badge" }, "inhibited") : h("span", { class: "badge bad" }, "firing");
    return h(
      "div",
      { class: `alert ${st}`, "data-testid": "alert", "data-alertname": a.labels.alertname ?? "" },
      h(
        "div",
        { class: "row-between", style: { marginTop: "0" } },
        h("div", { class: "row" }, h("b", null, a.labels.alertname ?? "(no alertname)"), badge, h("span", { class: "muted small", title: a.startsAt }, `since ${formatDate(Date.parse(a.startsAt))} (${ago(a.startsAt)})`)),
        h(
          "div",
          { class: "row small" },
          sourceLink(a.generatorURL),
          silenced
            ? a.status.silencedBy.map((id) => h("a", { href: `/silences?${new URLSearchParams({ edit: id })}` }, "view silence"))
            : h("a", { href: silenceHref(a.labels), class: "btn", "data-testid": "silence-alert" }, "Silence"),
        ),
      ),
      labelChips(a.labels, ["alertname"], addFilter),
      annotationsView(a.annotations),
    );
  }

  async function load() {
    const matchers = matchersFromFilter(filter.value);
    setParams({ filter: filter.value.trim() || undefined, silenced: showSilenced.checked ? "1" : undefined, inhibited: showInhibited.checked ? "1" : undefined });
    const q = filterParams(matchers);
    q.set("silenced", String(showSilenced.checked));
    q.set("inhibited", String(showInhibited.checked));
    q.set("active", "true");
    err.textContent = "";
    try {
      const [groups, rules] = await Promise.all([
        getJSON<AmGroup[]>(`/api/v2/alerts/groups?${q}`),
        getJSON<{ data: { alerts: RuleAlert[] } }>("/api/v1/alerts").then((r) => r.data.alerts ?? []),
      ]);
      const visible = groups.filter((g) => g.alerts.length);
      replace(
        firing,
        visible.length === 0
          ? h("div", { class: "empty", "data-testid": "no-alerts" }, "No alerts firing.")
          : visible.map((g) =>
              h(
                "div",
                { class: "card alert-group", "data-testid": "alert-group" },
                h(
                  "div",
                  { class: "row-between", style: { marginTop: "0" } },
                  h("div", { class: "row" }, Object.keys(g.labels).length ? labelChips(g.labels) : h("span", { class: "muted" }, "(not grouped)"), h("span", { class: "badge" }, `${g.alerts.length} alert${g.alerts.length === 1 ? "" : "s"}`)),
                  h("span", { class: "muted small" }, `receiver: ${g.receiver.name}`),
                ),
                ...g.alerts.map(alertCard),
              ),
            ),
      );
      const pend = rules.filter((a) => a.state === "pending" && matchesAll(a.labels, matchers));
      replace(
        pending,
        pend.length === 0
          ? h("div", { class: "empty" }, "No pending alerts.")
          : h(
              "div",
              { class: "card" },
              ...pend.map((a) =>
                h(
                  "div",
                  { class: "alert pending", "data-testid": "pending-alert", "data-alertname": a.labels.alertname ?? "" },
                  h("div", { class: "row" }, h("b", null, a.labels.alertname ?? ""), h("span", { class: "badge warn" }, "pending"), h("span", { class: "muted small" }, `active since ${a.activeAt ? formatDate(Date.parse(a.activeAt)) : "?"} · value ${a.value ?? ""}`)),
                  labelChips(a.labels, ["alertname"], addFilter),
                  annotationsView(a.annotations),
                ),
              ),
            ),
      );
      root.dataset.state = "done";
    } catch (e) {
      err.textContent = (e as Error).message;
      root.dataset.state = "error";
    }
  }
  filter.addEventListener("keydown", (e) => e.key === "Enter" && void load());
  showSilenced.addEventListener("change", () => void load());
  showInhibited.addEventListener("change", () => void load());
  void load();
  const timer = setInterval(() => void load(), 15_000);
  return () => clearInterval(timer);
}

function matchesAll(labels: Record<string, string>, ms: AmMatcher[]): boolean {
  return ms.every((m) => {
    const v = labels[m.name] ?? "";
    let hit: boolean;
    if (m.isRegex) {
      try {
        hit = new RegExp(`^(?:${m.value})$`).test(v);
      } catch {
        hit = false;
      }
    } else hit = v === m.value;
    return m.isEqual ? hit : !hit;
  });
}

// ---- Silences --------------------------------------------------------------------------------

const OPS = ["=", "!=", "=~", "!~"];

function opOf(m: AmMatcher): string {
  return m.isEqual ? (m.isRegex ? "=~" : "=") : m.isRegex ? "!~" : "!=";
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The silence editor (a modal): matchers, start, duration/end, creator, comment, preview. */
function silenceEditor(initial: Partial<Silence> & { matchers: AmMatcher[] }, onDone: (saved: string | null) => void): HTMLElement {
  const rows = h("div", { class: "matcher-rows" });
  const err = h("div", { class: "error-text", "data-testid": "silence-error" });
  const preview = h("div", { class: "muted small", "data-testid": "silence-preview" });
  const now = Date.now();
  const startMs = initial.startsAt ? Math.max(Date.parse(initial.startsAt), 0) : now;
  const endMs = initial.endsAt ? Date.parse(initial.endsAt) : now + 2 * 3_600_000;
  const start = h("input", { class: "input", value: formatDate(startMs), "data-testid": "silence-start" });
  const duration = h("input", { class: "input", value: formatDuration(Math.max(60_000, endMs - startMs)), "data-testid": "silence-duration" });
  const end = h("input", { class: "input", value: formatDate(endMs), "data-testid": "silence-end" });
  const createdBy = h("input", { class: "input", value: initial.createdBy || localStorage.getItem("pharos.silence.author") || "", placeholder: "your name", "data-testid": "silence-author" });
  const comment = h("textarea", { class: "input", rows: 2, placeholder: "why (required)", "data-testid": "silence-comment" });
  comment.value = initial.comment ?? "";

  const addRow = (m: AmMatcher) => {
    const name = h("input", { class: "input m-name", value: m.name, placeholder: "label" });
    const op = h("select", { class: "btn m-op" }, ...OPS.map((o) => h("option", { value: o, selected: o === opOf(m) }, o)));
    const value = h("input", { class: "input m-value", value: m.value, placeholder: "value" });
    const row = h("div", { class: "matcher-row", "data-testid": "matcher-row" }, name, op, value, h("button", { class: "btn", title: "remove", onclick: () => (row.remove(), void updatePreview()) }, "×"));
    [name, value].forEach((el) => el.addEventListener("change", () => void updatePreview()));
    op.addEventListener("change", () => void updatePreview());
    rows.append(row);
  };
  const matchers = (): AmMatcher[] =>
    [...rows.querySelectorAll<HTMLElement>(".matcher-row")]
      .map((r) => {
        const op = (r.querySelector(".m-op") as HTMLSelectElement).value;
        return {
          name: (r.querySelector(".m-name") as HTMLInputElement).value.trim(),
          value: (r.querySelector(".m-value") as HTMLInputElement).value,
          isRegex: op.includes("~"),
          isEqual: !op.startsWith("!"),
        };
      })
      .filter((m) => m.name);
  async function updatePreview() {
    const ms = matchers();
    if (!ms.length) {
      preview.textContent = "Add at least one matcher.";
      return;
    }
    try {
      const alerts = await getJSON<AmAlert[]>(`/api/v2/alerts?${filterParams(ms)}`);
      preview.textContent = `${alerts.length} alert${alerts.length === 1 ? "" : "s"} currently match: ${alerts.slice(0, 5).map((a) => a.labels.alertname).join(", ")}${alerts.length > 5 ? ", …" : ""}`;
    } catch (e) {
      preview.textContent = (e as Error).message;
    }
  }
  (initial.matchers.length ? initial.matchers : [{ name: "", value: "", isRegex: false, isEqual: true }]).forEach(addRow);

  const times = () => {
    const n = Date.now();
    const s = parseTime(start.value, n);
    const e = parseTime(end.value, n, true);
    return { s, e };
  };
  duration.addEventListener("change", () => {
    const d = parseDuration(duration.value.trim());
    const { s } = times();
    if (d && s !== null) end.value = formatDate(s + d);
  });
  end.addEventListener("change", () => {
    const { s, e } = times();
    if (s !== null && e !== null && e > s) duration.value = formatDuration(e - s);
  });
  start.addEventListener("change", () => {
    const d = parseDuration(duration.value.trim());
    const { s } = times();
    if (d && s !== null) end.value = formatDate(s + d);
  });

  const close = (saved: string | null) => {
    back.remove();
    onDone(saved);
  };
  const save = async () => {
    err.textContent = "";
    const { s, e } = times();
    if (s === null || e === null) {
      err.textContent = "Start and end: YYYY-MM-DD HH:MM:SS or now, now+2h.";
      return;
    }
    const ms = matchers();
    if (!ms.length) {
      err.textContent = "A silence needs at least one matcher.";
      return;
    }
    const body: Record<string, unknown> = {
      matchers: ms,
      startsAt: toIso(s),
      endsAt: toIso(e),
      createdBy: createdBy.value.trim(),
      comment: comment.value.trim(),
    };
    if (initial.id) body.id = initial.id;
    if (createdBy.value.trim()) localStorage.setItem("pharos.silence.author", createdBy.value.trim());
    try {
      const r = await sendJSON<{ silenceID: string }>("POST", "/api/v2/silences", body);
      close(r.silenceID);
    } catch (x) {
      err.textContent = (x as Error).message;
    }
  };
  const modal = h(
    "div",
    { class: "modal", "data-testid": "silence-editor" },
    h("h2", null, initial.id ? "Edit silence" : "New silence"),
    h(
      "div",
      { class: "form" },
      h("label", null, "Matchers (alerts matching all of them are silenced)"),
      rows,
      h("div", null, h("button", { class: "btn", onclick: () => addRow({ name: "", value: "", isRegex: false, isEqual: true }) }, "+ Matcher")),
      preview,
      h("div", { class: "row form-times" }, h("label", null, "Start", start), h("label", null, "Duration", duration), h("label", null, "End", end)),
      h("label", null, "Created by", createdBy),
      h("label", null, "Comment", comment),
      err,
      h(
        "div",
        { class: "row" },
        h("button", { class: "btn primary", "data-testid": "silence-save", onclick: () => void save() }, initial.id ? "Update silence" : "Create silence"),
        h("button", { class: "btn", onclick: () => close(null) }, "Cancel"),
      ),
    ),
  );
  const back = h("div", { class: "modal-back" }, modal);
  back.addEventListener("mousedown", (e) => e.target === back && close(null));
  void updatePreview();
  return back;
}

export function silencesPage(root: HTMLElement): () => void {
  const body = h("div", { "data-testid": "silences" }, h("div", { class: "empty" }, "Loading…"));
  const err = h("div", { class: "error-text" });
  const filter = h("input", { class: "input wide-input", placeholder: "filter: matcher or comment text", value: param("q"), "data-testid": "silences-filter" });
  root.append(
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Silences"),
      h("div", { class: "spacer" }),
      filter,
      h("button", { class: "btn primary", "data-testid": "new-silence", onclick: () => openEditor({ matchers: [] }) }, "New silence"),
    ),
    err,
    body,
  );
  let silences: Silence[] = [];
  let counts = new Map<string, number>();

  function openEditor(init: Partial<Silence> & { matchers: AmMatcher[] }) {
    document.body.append(
      silenceEditor(init, (saved) => {
        setParams({ create: undefined, filter: undefined, edit: undefined });
        if (saved) {
          root.dataset.saved = saved;
          void load();
        }
      }),
    );
  }

  async function expire(id: string) {
    try {
      await sendJSON("DELETE", `/api/v2/silence/${encodeURIComponent(id)}`);
      await load();
    } catch (e) {
      err.textContent = (e as Error).message;
    }
  }

  function card(s: Silence): HTMLElement {
    const state = silenceState(s);
    const expireBtn = confirmButton("Expire", { class: "btn danger", "data-testid": "silence-expire" }, () => void expire(s.id));
    const n = counts.get(s.id) ?? 0;
    return h(
      "div",
      { class: `card silence ${state}`, "data-testid": "silence", "data-silence-id": s.id },
      h(
        "div",
        { class: "row-between", style: { marginTop: "0" } },
        h("div", { class: "chips" }, ...s.matchers.map((m) => h("span", { class: "chip" }, matcherText(m)))),
        h(
          "div",
          { class: "row" },
          state === "expired"
            ? h("button", { class: "btn", onclick: () => openEditor({ ...s, id: undefined, startsAt: undefined, endsAt: undefined }) }, "Recreate")
            : [h("button", { class: "btn", "data-testid": "silence-edit", onclick: () => openEditor(s) }, "Edit"), expireBtn],
        ),
      ),
      h(
        "div",
        { class: "muted small silence-meta" },
        h("span", { class: `badge ${state === "active" ? "ok" : state === "pending" ? "warn" : ""}` }, state),
        ` ${formatDate(Date.parse(s.startsAt))} → ${formatDate(Date.parse(s.endsAt))}`,
        state === "active" ? ` (ends ${ago(s.endsAt)})` : "",
        ` · by ${s.createdBy || "?"}`,
        state === "active" ? ` · silencing ${n} alert${n === 1 ? "" : "s"}` : "",
        h("span", { class: "mono" }, ` · ${s.id}`),
      ),
      s.comment ? h("div", { class: "silence-comment" }, s.comment) : null,
    );
  }

  function render() {
    const f = filter.value.trim().toLowerCase();
    const shown = silences.filter((s) => !f || `${s.matchers.map(matcherText).join(" ")} ${s.comment} ${s.createdBy} ${s.id}`.toLowerCase().includes(f));
    const by = (st: string) => shown.filter((s) => silenceState(s) === st);
    const section = (title: string, list: Silence[], open: boolean) =>
      h("details", { class: "silence-section", open, "data-state": title.toLowerCase() }, h("summary", null, h("b", null, title), h("span", { class: "badge" }, String(list.length))), list.length ? list.map(card) : h("div", { class: "empty" }, "none"));
    replace(body, section("Active", by("active"), true), section("Pending", by("pending"), true), section("Expired", by("expired"), false));
  }

  const load = () =>
    loadInto(root, err, async () => {
      const [list, alerts] = await Promise.all([getJSON<Silence[]>("/api/v2/silences"), getJSON<AmAlert[]>("/api/v2/alerts?silenced=true&inhibited=false&active=false").catch(() => [] as AmAlert[])]);
      silences = list;
      counts = new Map();
      for (const a of alerts) for (const id of a.status.silencedBy) counts.set(id, (counts.get(id) ?? 0) + 1);
      render();
    });
  filter.addEventListener("input", () => {
    setParams({ q: filter.value || undefined });
    render();
  });

  const editId = param("edit");
  void load().then(() => {
    if (param("create") === "1") openEditor({ matchers: matchersFromFilter(param("filter")) });
    else if (editId) {
      const s = silences.find((x) => x.id === editId);
      if (s) openEditor(silenceState(s) === "expired" ? { ...s, id: undefined, startsAt: undefined, endsAt: undefined } : s);
      else err.textContent = `No silence ${editId}.`;
    }
  });
  const timer = setInterval(() => void load(), 30_000);
  return () => {
    clearInterval(timer);
    document.querySelectorAll(".modal-back").forEach((m) => m.remove());
  };
}

// ---- Rules -----------------------------------------------------------------------------------

export function rulesPage(root: HTMLElement): () => void {
  const body = h("div", { "data-testid": "rules" }, h("div", { class: "empty" }, "Loading…"));
  const filter = h("input", { class: "input", placeholder: "filter by rule or group name", value: param("q"), "data-testid": "rules-filter" });
  const types = ["all", "alerting", "recording"];
  let type = types.includes(param("type")) ? param("type") : "all";
  const typeButtons = types.map((t) => h("button", { class: `seg${t === type ? " active" : ""}`, "data-type": t, onclick: () => setType(t) }, t[0].toUpperCase() + t.slice(1)));
  root.append(h("div", { class: "page-head" }, h("h1", null, "Rules"), h("div", { class: "spacer" }), h("div", { class: "segmented" }, ...typeButtons), filter), body);
  let groups: RuleGroup[] = [];

  function setType(t: string) {
    type = t;
    typeButtons.forEach((b) => b.classList.toggle("active", b.dataset.type === t));
    setParams({ type: t === "all" ? undefined : t });
    render();
  }

  function stateBadge(r: Rule): HTMLElement | null {
    if (r.type !== "alerting") return null;
    const n = r.alerts?.length ?? 0;
    const st = r.state ?? "inactive";
    return h("span", { class: `badge ${st === "firing" ? "bad" : st === "pending" ? "warn" : "ok"}`, "data-testid": "rule-state" }, n ? `${st} (${n})` : st);
  }

  function ruleRow(r: Rule): HTMLElement[] {
    const q = new URLSearchParams({ q: r.query, from: "now-1h", to: "now" });
    const main = h(
      "tr",
      { "data-testid": "rule", "data-rule": r.name },
      h(
        "td",
        null,
        h("div", { class: "row" }, h("b", null, r.name), h("span", { class: "tag" }, r.type)),
        r.type === "alerting" && r.duration ? h("div", { class: "muted small" }, `for ${formatDuration(r.duration * 1000)}${r.keepFiringFor ? ` · keep firing ${formatDuration(r.keepFiringFor * 1000)}` : ""}`) : null,
        r.labels && Object.keys(r.labels).length ? labelChips(r.labels) : null,
      ),
      h("td", null, h("a", { class: "mono rule-query", href: `/explore?${q}` }, r.query), r.annotations ? annotationsView(r.annotations) : null),
      h("td", null, stateBadge(r)),
      h(
        "td",
        null,
        h("span", { class: `badge ${r.health === "ok" ? "ok" : r.health === "err" ? "bad" : "warn"}`, "data-testid": "rule-health" }, r.health),
        r.lastError ? h("div", { class: "error-text small" }, r.lastError) : null,
      ),
      h("td", { title: r.lastEvaluation ?? "" }, ago(r.lastEvaluation)),
      h("td", { class: "num" }, r.evaluationTime !== undefined ? `${(r.evaluationTime * 1000).toFixed(2)} ms` : ""),
    );
    return [main];
  }

  function render() {
    const f = filter.value.trim().toLowerCase();
    const cards = groups
      .map((g) => {
        const rules = g.rules.filter((r) => (type === "all" || r.type === type) && (!f || `${g.name} ${r.name}`.toLowerCase().includes(f)));
        if (!rules.length) return null;
        const bad = g.rules.filter((r) => r.health === "err").length;
        return h(
          "details",
          { class: "card rule-group", open: true, "data-testid": "rule-group", "data-group": g.name },
          h(
            "summary",
            null,
            h("b", null, g.name),
            h("span", { class: `badge ${bad ? "bad" : "ok"}` }, bad ? `${bad} unhealthy` : "ok"),
            h("span", { class: "muted small" }, ` ${g.file} · every ${formatDuration(g.interval * 1000)} · last evaluation ${ago(g.lastEvaluation)}${g.evaluationTime !== undefined ? ` · took ${(g.evaluationTime * 1000).toFixed(2)} ms` : ""}`),
          ),
          h(
            "table",
            { class: "data" },
            h("thead", null, h("tr", null, ...["Rule", "Query", "State", "Health", "Last evaluation", "Took"].map((c) => h("th", { class: c === "Took" ? "num" : "" }, c)))),
            h("tbody", null, ...rules.flatMap(ruleRow)),
          ),
        );
      })
      .filter((x): x is HTMLDetailsElement => x !== null);
    replace(body, cards.length ? cards : h("div", { class: "empty" }, groups.length ? "No rules match." : "No rule groups loaded (rule_files in pharos.yml)."));
  }

  async function load() {
    try {
      groups = (await getJSON<{ data: { groups: RuleGroup[] } }>("/api/v1/rules")).data.groups ?? [];
      render();
      root.dataset.state = "done";
    } catch (e) {
      replace(body, h("div", { class: "error-box" }, (e as Error).message));
      root.dataset.state = "error";
    }
  }
  filter.addEventListener("input", () => {
    setParams({ q: filter.value || undefined });
    render();
  });
  void load();
  const timer = setInterval(() => void load(), 15_000);
  return () => clearInterval(timer);
}

