// The monitor editor (a modal): the fields of the chosen type in sections, create (POST) or
// replace (PUT), with the API's validation errors shown under the fields they name.

import { ApiError, sendJSON } from "../lib/api";
import { h, replace } from "../lib/dom";
import {
  API,
  type Definition,
  type FieldSpec,
  type FormValues,
  type MonitorType,
  TYPES,
  definitionFromForm,
  fieldErrors,
  fieldsFor,
  formFromDefinition,
} from "../lib/monitors";

const SECTIONS: Array<[FieldSpec["section"], string]> = [
  ["query", "Query"],
  ["thresholds", "Thresholds"],
  ["options", "Options"],
  ["evaluation", "Evaluation and groups"],
  ["notify", "Notifications"],
];

const QUERY_HINTS: Record<MonitorType, string> = {
  metric: "PromQL, judged at the latest evaluation time, e.g. max by (service) (rate(errors_total[5m]))",
  anomaly: "PromQL: the fraction of its points outside the anomaly band is judged",
  forecast: "PromQL: the forecast band's extreme within the horizon is judged",
  outlier: "PromQL over a group of series: the members diverging from the others alert",
  log: 'LogQL metric query, e.g. sum(count_over_time({app="api"} |= "error" [5m]))',
  composite: "Monitor names with && || ! and parentheses, e.g. api-latency && !maintenance",
};

type Input = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

function inputFor(f: FieldSpec, value: string | boolean | undefined, locked: boolean): Input {
  const attrs = { "data-input": f.key, disabled: locked, placeholder: f.placeholder };
  if (f.kind === "bool") return h("input", { ...attrs, type: "checkbox", checked: Boolean(value) });
  if (f.kind === "select") return h("select", { ...attrs, class: "btn" }, ...(f.options ?? []).map((o) => h("option", { value: o, selected: o === value }, o)));
  if (f.kind === "query" || f.kind === "template") {
    const ta = h("textarea", { ...attrs, class: `input${f.kind === "query" ? " mono" : ""}`, rows: f.kind === "query" ? 3 : 2 });
    ta.value = typeof value === "string" ? value : "";
    return ta;
  }
  return h("input", { ...attrs, class: "input", value: typeof value === "string" ? value : "", inputmode: f.kind === "number" || f.kind === "integer" ? "decimal" : undefined });
}

/** The editor; `initial` null creates a monitor of `type`. `onDone` gets the saved name. */
export function monitorEditor(initial: Definition | null, type: MonitorType, monitorNames: string[], onDone: (saved: string | null) => void): HTMLElement {
  let values: FormValues = initial ? formFromDefinition(initial) : {};
  let current: MonitorType = initial?.type ?? type;
  const body = h("div", { class: "form" });
  const general = h("div", { class: "error-text", "data-testid": "monitor-error" });
  const typeSelect = h("select", { class: "btn", "data-input": "type", "data-testid": "monitor-type" }, ...TYPES.map((t) => h("option", { value: t, selected: t === current }, t)));
  const inputs = new Map<string, Input>();
  const errors = new Map<string, HTMLElement>();

  const read = (): FormValues => {
    const out: FormValues = { ...values };
    for (const [key, el] of inputs) out[key] = el instanceof HTMLInputElement && el.type === "checkbox" ? el.checked : el.value;
    return out;
  };

  function render(): void {
    inputs.clear();
    errors.clear();
    const fields = fieldsFor(current);
    const sections = SECTIONS.map(([id, title]) => {
      const own = fields.filter((f) => f.section === id);
      if (!own.length) return null;
      const items = own.map((f) => {
        const el = inputFor(f, values[f.key], f.key === "name" && initial !== null);
        const err = h("div", { class: "error-text small field-error", "data-testid": `error-${f.key}` });
        inputs.set(f.key, el);
        errors.set(f.key, err);
        const wide = f.kind === "query" || f.kind === "template" || f.key === "name";
        const half = f.kind === "list" || f.kind === "labels";
        const hint = f.kind === "query" ? h("span", { class: "muted small" }, QUERY_HINTS[current], current === "composite" && monitorNames.length ? ` · monitors: ${monitorNames.join(", ")}` : "") : null;
        return h("label", { class: `${f.kind === "bool" ? "check" : ""}${wide ? " wide" : half ? " half" : ""}`, "data-field": f.key }, f.kind === "bool" ? [el, f.label] : [f.label, el], hint, err);
      });
      const heading = id === "options" ? `${current[0].toUpperCase()}${current.slice(1)} options` : title;
      return h("fieldset", { class: `form-section form-${id}` }, h("legend", null, heading), h("div", { class: "form-grid" }, ...items));
    });
    replace(body, h("label", null, "Type", typeSelect), ...sections, general);
  }

  function showErrors(byField: Record<string, string>): void {
    general.textContent = byField[""] ?? "";
    for (const [key, el] of errors) {
      el.textContent = byField[key] ?? "";
      inputs.get(key)?.classList.toggle("has-error", Boolean(byField[key]));
    }
    const first = Object.keys(byField).find((k) => k && errors.has(k));
    if (first) inputs.get(first)?.scrollIntoView({ block: "nearest" });
  }

  async function save(): Promise<void> {
    values = read();
    const { definition, errors: local } = definitionFromForm(current, values);
    if (Object.keys(local).length) {
      showErrors(local);
      return;
    }
    showErrors({});
    try {
      const url = initial ? `${API}/${encodeURIComponent(initial.name)}` : API;
      const saved = await sendJSON<{ name: string }>(initial ? "PUT" : "POST", url, initial ? { ...definition, name: initial.name } : definition);
      close(saved.name);
    } catch (e) {
      showErrors(e instanceof ApiError && e.status === 400 ? fieldErrors(e.message) : { "": (e as Error).message });
    }
  }

  const close = (saved: string | null) => {
    back.remove();
    onDone(saved);
  };
  typeSelect.addEventListener("change", () => {
    values = read();
    current = typeSelect.value as MonitorType;
    render();
  });
  const modal = h(
    "div",
    { class: "modal monitor-editor", "data-testid": "monitor-editor" },
    h("h2", null, initial ? `Edit monitor ${initial.name}` : "New monitor"),
    body,
    h(
      "div",
      { class: "row modal-actions" },
      h("button", { class: "btn primary", "data-testid": "monitor-save", onclick: () => void save() }, initial ? "Save monitor" : "Create monitor"),
      h("button", { class: "btn", onclick: () => close(null) }, "Cancel"),
    ),
  );
  const back = h("div", { class: "modal-back" }, modal);
  back.addEventListener("mousedown", (e) => e.target === back && close(null));
  render();
  return back;
}
