// Dashboards: the list (built-in and saved), import of Grafana JSON, and the dashboard view
// with variables, collapsible rows, panels, JSON editing, save and delete.

import { PanelView } from "../components/panels";
import { TimePicker } from "../components/timepicker";
import { ApiError, getJSON, sendJSON } from "../lib/api";
import { resolveVariables, type ResolvedVariable } from "../lib/dashvars";
import { h, replace } from "../lib/dom";
import { importGrafana, sections, type Dashboard, type Panel } from "../lib/grafana";
import { parseDuration, resolveRange, type TimeRange } from "../lib/time";
import { navigate, params, setParams } from "../lib/url";
import { ALL, type VariableValues } from "../lib/variables";

const API = "/api/pharos/v1/dashboards";

interface Summary {
  uid: string;
  title: string;
  tags: string[];
  builtin: boolean;
}

function modal(title: string, ...content: Array<Node | string | null>): { close: () => void; el: HTMLElement } {
  const box = h("div", { class: "modal", role: "dialog" }, h("h2", null, title), ...content);
  const back = h("div", { class: "modal-back" }, box);
  back.addEventListener("mousedown", (e) => {
    if (e.target === back) back.remove();
  });
  document.body.append(back);
  return { close: () => back.remove(), el: box };
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

/** Save an imported dashboard; on a uid clash, offer to overwrite. */
async function saveImported(dash: Dashboard, overwrite: boolean): Promise<string> {
  const r = await sendJSON<{ data: { uid: string } }>("POST", API, { dashboard: dash, overwrite });
  return r.data.uid;
}

export function openImport(): void {
  const text = h("textarea", { class: "json", placeholder: "Paste Grafana dashboard JSON", "data-testid": "import-json" });
  const file = h("input", { type: "file", accept: ".json,application/json", "data-testid": "import-file" });
  const overwrite = h("input", { type: "checkbox", "data-testid": "import-overwrite" });
  const err = h("div", { class: "error-text", "data-testid": "import-error" });
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const m = modal(
    "Import dashboard",
    h("p", { class: "muted" }, "Grafana dashboard JSON (any schema version). Prometheus and Loki data sources are served by pharos."),
    h("div", { class: "form" }, h("label", null, "Upload a JSON file", file), text, h("label", { class: "row" }, overwrite, "Overwrite a dashboard with the same uid"), err),
    h(
      "div",
      { class: "row", style: { marginTop: "10px" } },
      h(
        "button",
        {
          class: "btn primary",
          "data-testid": "import-submit",
          onclick: async () => {
            err.textContent = "";
            try {
              const dash = importGrafana(text.value);
              const uid = await saveImported(dash, overwrite.checked);
              m.close();
              navigate(`/d/${uid}/${slug(dash.title)}`);
            } catch (e) {
              err.textContent = e instanceof ApiError && e.status === 409 ? `${e.message} — tick "Overwrite" to replace it.` : (e as Error).message;
            }
          },
        },
        "Import",
      ),
      h("button", { class: "btn", onclick: () => m.close() }, "Cancel"),
    ),
  );
}

export function dashboardsPage(root: HTMLElement): void {
  const list = h("div", { class: "dash-list", "data-testid": "dashboard-list" }, h("div", { class: "empty" }, "Loading…"));
  const search = h("input", { class: "input", placeholder: "Search dashboards", "data-testid": "dashboard-search" });
  const create = async () => {
    const r = await sendJSON<{ data: { uid: string } }>("POST", API, { dashboard: { title: "New dashboard", panels: [], templating: { list: [] }, time: { from: "now-1h", to: "now" } } });
    navigate(`/d/${r.data.uid}?edit=1`);
  };
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Dashboards"), h("div", { class: "spacer" }), search, h("button", { class: "btn", onclick: create, "data-testid": "new-dashboard" }, "New"), h("button", { class: "btn primary", onclick: openImport, "data-testid": "import-dashboard" }, "Import")),
    list,
  );
  let items: Summary[] = [];
  const render = () => {
    const q = search.value.toLowerCase();
    const shown = items.filter((d) => !q || d.title.toLowerCase().includes(q) || d.tags.some((t) => t.toLowerCase().includes(q)));
    replace(
      list,
      shown.length === 0
        ? h("div", { class: "empty" }, "No dashboards. Import one from Grafana JSON.")
        : shown.map((d) =>
            h("div", { class: "card" }, h("a", { class: "title", href: `/d/${d.uid}/${slug(d.title)}` }, d.title), d.builtin ? h("span", { class: "badge ok" }, "built-in") : null, h("div", { class: "chips" }, ...d.tags.map((t) => h("span", { class: "chip" }, t)))),
          ),
    );
  };
  search.addEventListener("input", render);
  void getJSON<{ data: Summary[] }>(API)
    .then((r) => {
      items = r.data;
      render();
      root.dataset.state = "done";
    })
    .catch((e: Error) => replace(list, h("div", { class: "error-box" }, e.message)));
}

export function dashboardPage(root: HTMLElement, match: RegExpExecArray): () => void {
  const uid = decodeURIComponent(match[1]);
  let dash: Dashboard | null = null;
  let meta: { builtin: boolean; version: number } = { builtin: false, version: 1 };
  let views: PanelView[] = [];
  let resolved: ResolvedVariable[] = [];
  let values: VariableValues = {};
  let range: TimeRange = { from: "now-6h", to: "now" };
  let timer: ReturnType<typeof setInterval> | undefined;
  let dirty = false;
  let scrapeIntervalMs = 15_000;
  const varsEl = h("div", { class: "dash-vars", "data-testid": "variables" });
  const body = h("div", { class: "dash-body" });
  const titleEl = h("h1", null, "…");
  const saveBtn = h("button", { class: "btn primary", style: { display: "none" }, "data-testid": "save-dashboard", onclick: () => void save() }, "Save");
  let picker: TimePicker | null = null;
  const head = h("div", { class: "page-head" }, h("a", { href: "/dashboards", class: "muted" }, "Dashboards /"), titleEl, h("div", { class: "spacer" }));
  root.append(head, varsEl, body);

  const markDirty = () => {
    dirty = true;
    saveBtn.style.display = "";
  };

  async function save(): Promise<void> {
    if (!dash) return;
    try {
      const r = await sendJSON<{ data: { version: number } }>("PUT", `${API}/${encodeURIComponent(uid)}`, { dashboard: { ...dash, version: meta.version } });
      meta.version = r.data.version;
      dash.version = r.data.version;
      dirty = false;
      saveBtn.style.display = "none";
    } catch (e) {
      alert(`Save failed: ${(e as Error).message}`);
    }
  }

  function editJSON(target: "dashboard" | Panel): void {
    if (!dash) return;
    const current = target === "dashboard" ? dash : target;
    const text = h("textarea", { class: "json", style: { minHeight: "50vh" }, "data-testid": "json-editor" });
    text.value = JSON.stringify(current, null, 2);
    const err = h("div", { class: "error-text" });
    const m = modal(
      target === "dashboard" ? "Dashboard JSON" : `Panel: ${(target as Panel).title ?? ""}`,
      text,
      err,
      h(
        "div",
        { class: "row", style: { marginTop: "10px" } },
        h(
          "button",
          {
            class: "btn primary",
            "data-testid": "json-apply",
            onclick: () => {
              try {
                const parsed = JSON.parse(text.value) as Record<string, unknown>;
                if (target === "dashboard") {
                  const norm = importGrafana(parsed);
                  dash = { ...norm, uid, version: meta.version };
                } else {
                  const replaceIn = (ps: Panel[]): Panel[] => ps.map((p) => (p === target ? (importGrafana({ panels: [parsed] }).panels[0] as Panel) : p.panels ? { ...p, panels: replaceIn(p.panels) } : p));
                  dash!.panels = replaceIn(dash!.panels);
                }
                m.close();
                markDirty();
                void renderAll(true);
              } catch (e) {
                err.textContent = (e as Error).message;
              }
            },
          },
          "Apply",
        ),
        target !== "dashboard"
          ? h("button", {
              class: "btn danger",
              onclick: () => {
                const drop = (ps: Panel[]): Panel[] => ps.filter((p) => p !== target).map((p) => (p.panels ? { ...p, panels: drop(p.panels) } : p));
                dash!.panels = drop(dash!.panels);
                m.close();
                markDirty();
                void renderAll(false);
              },
            }, "Remove panel")
          : null,
        h("button", { class: "btn", onclick: () => m.close() }, "Cancel"),
      ),
    );
  }

  function addPanel(): void {
    if (!dash) return;
    const maxY = Math.max(0, ...dash.panels.map((p) => p.gridPos.y + p.gridPos.h));
    const id = Math.max(0, ...dash.panels.map((p) => p.id ?? 0)) + 1;
    const panel: Panel = { id, type: "timeseries", title: "New panel", gridPos: { x: 0, y: maxY, w: 12, h: 8 }, targets: [{ refId: "A", expr: "up" }], fieldConfig: { defaults: {} }, options: {} };
    dash.panels.push(panel);
    markDirty();
    void renderAll(false).then(() => editJSON(panel));
  }

  async function remove(): Promise<void> {
    if (!confirm(meta.builtin ? "Restore the built-in version of this dashboard?" : "Delete this dashboard?")) return;
    try {
      await sendJSON("DELETE", `${API}/${encodeURIComponent(uid)}`);
      navigate("/dashboards");
    } catch (e) {
      alert((e as Error).message);
    }
  }

  function exportJSON(): void {
    if (!dash) return;
    const blob = new Blob([JSON.stringify(dash, null, 2)], { type: "application/json" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `${slug(dash.title)}.json` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }

  function selectedFromURL(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [k, v] of params().entries()) {
      if (k.startsWith("var-")) (out[k.slice(4)] ??= []).push(v);
    }
    return out;
  }

  async function loadVariables(): Promise<void> {
    if (!dash) return;
    const r = resolveRange(range);
    const out = await resolveVariables(dash.templating?.list ?? [], selectedFromURL(), r.start, r.end);
    resolved = out.resolved;
    values = out.values;
    renderVariables();
  }

  function renderVariables(): void {
    replace(
      varsEl,
      ...resolved
        .filter((v) => v.model.hide !== 2)
        .map((v) => {
          const name = v.model.name;
          const label = v.model.label || name;
          if (v.model.type === "textbox") {
            const input = h("input", { value: v.values[0] ?? "", "data-var": name });
            input.addEventListener("change", () => changeVar(name, [input.value]));
            return h("label", { class: "var" }, h("span", null, label), input);
          }
          const sel = h("select", { "data-var": name, multiple: Boolean(v.model.multi) });
          if (v.model.multi) sel.size = 1;
          const opts = [...(v.model.includeAll ? [{ text: "All", value: ALL }] : []), ...v.options];
          if (opts.length === 0) sel.append(h("option", { value: "" }, "(none)"));
          for (const o of opts) sel.append(h("option", { value: o.value, selected: v.values.includes(o.value) }, o.text));
          sel.addEventListener("change", () => changeVar(name, Array.from(sel.selectedOptions).map((o) => o.value)));
          return h("label", { class: "var", title: v.error ?? "" }, h("span", null, label), sel);
        }),
      h("div", { class: "spacer" }),
    );
  }

  async function changeVar(name: string, vals: string[]): Promise<void> {
    setParams({ [`var-${name}`]: vals.length ? vals : [""] }, true);
    await loadVariables();
    refreshPanels();
  }

  function refreshPanels(): void {
    const r = resolveRange(range);
    root.dataset.state = "loading";
    const loads = views.map((v) => v.load({ range: r, vars: values, scrapeIntervalMs }));
    void Promise.allSettled(loads).then(() => {
      root.dataset.state = "done";
    });
  }

  async function renderAll(reloadVars: boolean): Promise<void> {
    if (!dash) return;
    views.forEach((v) => v.destroy());
    views = [];
    titleEl.textContent = dash.title;
    document.title = `${dash.title} · pharos`;
    if (reloadVars) await loadVariables();
    const editing = true;
    const secs = sections(dash.panels);
    const children: HTMLElement[] = [];
    for (const s of secs) {
      const grid = h("div", { class: "dash-grid" });
      const row = s.row;
      if (row) {
        const count = row.collapsed ? (row.panels?.length ?? 0) : s.panels.length;
        const header = h("div", { class: "dash-row", "data-row": String(row.id ?? ""), "data-collapsed": String(Boolean(row.collapsed)) }, h("span", null, row.collapsed ? "▸" : "▾"), h("span", null, interpolateTitle(row.title ?? "")), h("span", { class: "count" }, `(${count} panels)`));
        header.addEventListener("click", () => toggleRow(row, s.panels));
        children.push(header);
      }
      if (!row || !row.collapsed) {
        const minY = Math.min(...s.panels.map((p) => p.gridPos.y));
        for (const p of s.panels) {
          const view = new PanelView({ ...p, title: interpolateTitle(p.title ?? "") }, editing ? () => editJSON(p) : undefined);
          view.el.style.gridRow = `${p.gridPos.y - minY + 1} / span ${Math.max(2, p.gridPos.h)}`;
          views.push(view);
          grid.append(view.el);
        }
        if (s.panels.length) children.push(grid);
      }
    }
    if (children.length === 0) children.push(h("div", { class: "empty" }, "This dashboard has no panels yet. ", h("button", { class: "link", onclick: addPanel }, "Add a panel")));
    replace(body, ...children);
    refreshPanels();
  }

  function interpolateTitle(t: string): string {
    return t.replace(/\$(\w+)|\$\{(\w+)\}/g, (w, a?: string, b?: string) => {
      const v = values[a ?? b ?? ""];
      if (!v) return w;
      return v.values.includes(ALL) ? "All" : v.values.join(", ");
    });
  }

  /** Collapse: move the row's panels into it; expand: put them back below the row. */
  function toggleRow(row: Panel, visible: Panel[]): void {
    if (!dash) return;
    if (row.collapsed) {
      const inner = row.panels ?? [];
      const delta = row.gridPos.y + 1 - Math.min(row.gridPos.y + 1, ...inner.map((p) => p.gridPos.y));
      const height = inner.length ? Math.max(...inner.map((p) => p.gridPos.y + p.gridPos.h)) - Math.min(...inner.map((p) => p.gridPos.y)) : 0;
      for (const p of dash.panels) if (p.gridPos.y > row.gridPos.y) p.gridPos.y += height;
      for (const p of inner) p.gridPos.y += delta;
      dash.panels.push(...inner);
      row.panels = [];
      row.collapsed = false;
    } else {
      row.panels = visible;
      dash.panels = dash.panels.filter((p) => !visible.includes(p));
      row.collapsed = true;
    }
    markDirty();
    void renderAll(false);
  }

  function schedule(every: string): void {
    if (timer) clearInterval(timer);
    timer = undefined;
    const ms = parseDuration(every);
    if (ms && ms >= 1000) timer = setInterval(() => refreshPanels(), ms);
  }

  async function loadScrapeInterval(): Promise<void> {
    try {
      const r = await getJSON<{ data: { yaml: string } }>("/api/v1/status/config");
      const m = /scrape_interval:\s*(\S+)/.exec(r.data.yaml);
      const ms = m ? parseDuration(m[1]) : null;
      if (ms) scrapeIntervalMs = ms;
    } catch {
      /* keep 15s */
    }
  }

  void (async () => {
    try {
      const [r] = await Promise.all([getJSON<{ data: { dashboard: Dashboard; meta: { builtin: boolean; version: number } } }>(`${API}/${encodeURIComponent(uid)}`), loadScrapeInterval()]);
      dash = importGrafana(r.data.dashboard);
      dash.uid = uid;
      meta = r.data.meta;
    } catch (e) {
      replace(body, h("div", { class: "error-box" }, (e as Error).message));
      root.dataset.state = "error";
      return;
    }
    const p = params();
    range = { from: p.get("from") ?? dash.time?.from ?? "now-6h", to: p.get("to") ?? dash.time?.to ?? "now" };
    const refresh = p.get("refresh") ?? (typeof dash.refresh === "string" ? dash.refresh : "");
    picker = new TimePicker({
      range,
      refresh,
      onChange: (nr) => {
        range = nr;
        setParams({ from: nr.from, to: nr.to }, true);
        void loadVariables().then(refreshPanels);
      },
      onRefresh: () => refreshPanels(),
      onRefreshInterval: (every) => {
        setParams({ refresh: every || undefined });
        schedule(every);
      },
    });
    head.append(
      saveBtn,
      h("button", { class: "btn", onclick: addPanel, "data-testid": "add-panel" }, "Add panel"),
      h("button", { class: "btn", onclick: () => editJSON("dashboard"), "data-testid": "edit-json" }, "JSON"),
      h("button", { class: "btn", onclick: exportJSON }, "Export"),
      h("button", { class: "btn danger", onclick: () => void remove(), "data-testid": "delete-dashboard" }, meta.builtin ? "Reset" : "Delete"),
      picker.el,
    );
    schedule(refresh);
    await renderAll(true);
  })();

  const beforeUnload = (e: BeforeUnloadEvent) => {
    if (dirty) e.preventDefault();
  };
  window.addEventListener("beforeunload", beforeUnload);
  return () => {
    if (timer) clearInterval(timer);
    views.forEach((v) => v.destroy());
    window.removeEventListener("beforeunload", beforeUnload);
  };
}
