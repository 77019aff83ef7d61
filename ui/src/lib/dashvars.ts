// Resolving a dashboard's variables against the Prometheus API: options and current values.

import { prom } from "./api";
import type { VariableModel } from "./grafana";
import { formatInterval, parseDuration } from "./time";
import {
  ALL,
  applyRegex,
  computeInterval,
  customOptions,
  interpolate,
  parseVariableQuery,
  seriesName,
  sortValues,
  type VariableValues,
} from "./variables";

export interface ResolvedVariable {
  model: VariableModel;
  options: Array<{ text: string; value: string }>;
  values: string[];
  error?: string;
}

function currentFromModel(v: VariableModel): string[] {
  const val = v.current?.value;
  if (Array.isArray(val)) return val.map(String);
  if (val === undefined || val === null || val === "") return [];
  return [String(val)];
}

async function queryOptions(v: VariableModel, vars: VariableValues, startMs: number, endMs: number): Promise<string[]> {
  const raw = v.query ?? v.definition ?? "";
  const q = parseVariableQuery(raw);
  const interp = (s: string) => interpolate(s, vars, { intervalMs: 60_000, rateIntervalMs: 60_000, rangeMs: endMs - startMs, fromMs: startMs, toMs: endMs });
  switch (q.kind) {
    case "label_values":
      return prom.labelValues(q.label, q.match ? [interp(q.match)] : undefined, startMs, endMs);
    case "label_names":
      return prom.labels(q.match ? [interp(q.match)] : undefined, startMs, endMs);
    case "metrics": {
      const names = await prom.labelValues("__name__");
      let re: RegExp;
      try {
        re = new RegExp(interp(q.regex));
      } catch {
        return names;
      }
      return names.filter((n) => re.test(n));
    }
    case "query_result": {
      const d = await prom.query(interp(q.expr), endMs);
      if (d.resultType === "vector") return d.result.map((s) => `${seriesName(s.metric)} ${s.value?.[1]} ${s.value?.[0]}`);
      if (d.resultType === "scalar" || d.resultType === "string") return [String(d.result[1])];
      return [];
    }
    default: {
      // A bare metric selector or expression: the series' names (Grafana's fallback).
      if (!q.text) return [];
      const series = await prom.series([interp(q.text)], startMs, endMs);
      return series.map(seriesName);
    }
  }
}

/**
 * Resolve every variable in order (later ones may refer to earlier ones). `selected` holds the
 * values from the URL (`var-NAME`); missing or stale selections fall back to the saved current
 * value, then to the first option.
 */
export async function resolveVariables(
  models: VariableModel[],
  selected: Record<string, string[]>,
  startMs: number,
  endMs: number,
): Promise<{ resolved: ResolvedVariable[]; values: VariableValues }> {
  const values: VariableValues = {};
  const resolved: ResolvedVariable[] = [];
  for (const v of models) {
    let options: Array<{ text: string; value: string }> = [];
    let error: string | undefined;
    try {
      switch (v.type) {
        case "datasource":
          options = [{ text: v.query === "loki" ? "Loki (pharos)" : "pharos", value: String(v.query ?? "prometheus") }];
          break;
        case "custom":
          options = customOptions(String(v.query ?? ""));
          break;
        case "interval": {
          options = String(v.query ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .map((s) => ({ text: s, value: s }));
          if (v.auto) {
            const minMs = parseDuration(v.auto_min ?? "10s") ?? 10_000;
            const auto = formatInterval(computeInterval(endMs - startMs, v.auto_count ?? 30, minMs));
            options.unshift({ text: "auto", value: auto });
          }
          break;
        }
        case "constant":
          options = [{ text: String(v.query ?? ""), value: String(v.query ?? "") }];
          break;
        case "textbox": {
          const t = selected[v.name]?.[0] ?? currentFromModel(v)[0] ?? String(v.query ?? "");
          options = [{ text: t, value: t }];
          break;
        }
        case "query": {
          const raw = await queryOptions(v, values, startMs, endMs);
          const vals = sortValues(applyRegex([...new Set(raw)], v.regex), v.sort);
          options = vals.map((x) => ({ text: x, value: x }));
          break;
        }
        default:
          options = [];
      }
    } catch (e) {
      error = (e as Error).message;
      options = [];
    }
    const optionValues = options.map((o) => o.value);
    let current = selected[v.name] ?? currentFromModel(v);
    if (v.type === "custom" || v.type === "interval") {
      // A saved current value may be the option's text; map it to the value.
      current = current.map((c) => options.find((o) => o.text === c)?.value ?? c);
    }
    const isAll = current.includes(ALL) || current.includes("All") && Boolean(v.includeAll);
    let chosen: string[];
    if (isAll && v.includeAll) chosen = [ALL];
    else {
      chosen = current.filter((c) => optionValues.includes(c));
      if (v.type === "textbox") chosen = [options[0]?.value ?? ""];
      if (chosen.length === 0) chosen = v.includeAll && optionValues.length !== 1 && current.length === 0 ? [ALL] : optionValues.slice(0, 1);
      if (!v.multi && chosen.length > 1) chosen = chosen.slice(0, 1);
    }
    if (chosen.length === 1 && chosen[0] === ALL && optionValues.length === 0 && !v.allValue) chosen = [];
    values[v.name] = {
      values: chosen,
      options: optionValues,
      multi: Boolean(v.multi),
      includeAll: Boolean(v.includeAll),
      allValue: v.allValue,
    };
    resolved.push({ model: v, options, values: chosen, error });
  }
  return { resolved, values };
}
