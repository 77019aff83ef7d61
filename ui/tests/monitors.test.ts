import { describe, expect, it } from "vitest";
import {
  type Definition,
  type Labels,
  type MonitorSummary,
  type Role,
  bandPairs,
  chartQueries,
  definitionFromForm,
  fieldErrors,
  fieldsFor,
  filterMonitors,
  formFromDefinition,
  groupName,
  stateClass,
  stateCounts,
  thresholdLines,
} from "../src/lib/monitors";
import { ago } from "../src/lib/time";

function summary(name: string, type: MonitorSummary["type"], state: MonitorSummary["state"]): MonitorSummary {
  return { name, type, query: "x", source: "api", state, muted: false, mute_end: null, last_evaluation: null, error: "", group_states: [], last_transition: null };
}

describe("monitor list", () => {
  const list = [summary("b-ok", "metric", "OK"), summary("a-alert", "log", "ALERT"), summary("c-warn", "metric", "WARN"), summary("new", "anomaly", null), summary("d-nodata", "metric", "NO DATA")];
  it("sorts the most severe first, then by name; unevaluated last", () => {
    expect(filterMonitors(list, {}).map((m) => m.name)).toEqual(["a-alert", "d-nodata", "c-warn", "b-ok", "new"]);
  });
  it("filters by name substring, state and type", () => {
    expect(filterMonitors(list, { q: "  A-" }).map((m) => m.name)).toEqual(["a-alert"]);
    expect(filterMonitors(list, { state: "WARN" }).map((m) => m.name)).toEqual(["c-warn"]);
    expect(filterMonitors(list, { type: "metric", q: "o" }).map((m) => m.name)).toEqual(["d-nodata", "b-ok"]);
    expect(filterMonitors(list, { state: "ALERT", type: "metric" })).toEqual([]);
  });
  it("colours states and counts groups per state", () => {
    expect(["OK", "WARN", "ALERT", "NO DATA", null].map((s) => stateClass(s as MonitorSummary["state"]))).toEqual(["ok", "warn", "bad", "nodata", "pending"]);
    const groups = [{ state: "OK" as const }, { state: "ALERT" as const }, { state: "OK" as const }];
    expect(stateCounts(groups)).toEqual([["ALERT", 1], ["OK", 2]]);
    expect(groupName({ b: "2", a: "1" })).toBe('{a="1", b="2"}');
    expect(groupName({})).toBe("(all)");
  });
});

describe("monitor form", () => {
  it("offers each type its own fields", () => {
    const keys = (t: Parameters<typeof fieldsFor>[0]) => fieldsFor(t).map((f) => f.key);
    expect(keys("metric")).toContain("thresholds.critical");
    expect(keys("metric")).not.toContain("anomaly.algorithm");
    expect(keys("anomaly")).toContain("anomaly.trigger_window");
    expect(keys("anomaly")).not.toContain("comparison");
    expect(keys("composite")).not.toContain("thresholds.critical");
    expect(keys("composite")).not.toContain("group_by");
    expect(keys("log")).toContain("tenant");
    expect(keys("outlier")).toEqual(expect.arrayContaining(["outlier.tolerance", "outlier.pct"]));
  });
  it("builds a definition: numbers, lists, labels; blanks left to the server's defaults", () => {
    const { definition, errors } = definitionFromForm("metric", {
      name: " cpu ", query: "avg(cpu)", comparison: "below", "thresholds.critical": "0.5", "thresholds.warning": "", group_by: "host, , dc",
      interval: "30s", notify_no_data: true, labels: "team=web, env = prod", renotify_occurrences: "3", "anomaly.bounds": "4",
    });
    expect(errors).toEqual({});
    expect(definition).toEqual({
      type: "metric", name: "cpu", query: "avg(cpu)", comparison: "below", thresholds: { critical: 0.5 }, group_by: ["host", "dc"],
      interval: "30s", notify_no_data: true, labels: { team: "web", env: "prod" }, renotify_occurrences: 3,
    });
  });
  it("names the fields it cannot convert", () => {
    const { errors } = definitionFromForm("metric", { name: "x", query: "y", "thresholds.critical": "lots", renotify_occurrences: "1.5", labels: "team" });
    expect(errors).toEqual({ "thresholds.critical": "not a number: lots", renotify_occurrences: "not a whole number: 1.5", labels: 'expected name=value, got "team"' });
  });
  it("round-trips a definition through the form (durations as text)", () => {
    const def: Definition = {
      name: "lat", type: "forecast", query: "q", comparison: "above", thresholds: { critical: 10, critical_recovery: null, warning: 5 }, group_by: ["svc"],
      interval: 90, labels: { team: "web" }, notify_no_data: false, forecast: { algorithm: "seasonal", horizon: 86400, bounds: 2, model: "reactive" }, anomaly: { bounds: 3 },
    };
    const form = formFromDefinition(def);
    expect(form).toMatchObject({ interval: "1m30s", "forecast.horizon": "1d", group_by: "svc", labels: "team=web", "thresholds.critical": "10", notify_no_data: false });
    expect(form).not.toHaveProperty("anomaly.bounds");
    expect(form).not.toHaveProperty("thresholds.critical_recovery");
    const back = definitionFromForm("forecast", form).definition;
    expect(back).toMatchObject({ name: "lat", thresholds: { critical: 10, warning: 5 }, forecast: { algorithm: "seasonal", horizon: "1d" }, interval: "1m30s" });
  });
  it("maps the API's validation message to fields", () => {
    expect(fieldErrors("thresholds.warning: warning must not be above critical for comparison above; group_by.0: '1x' is not a valid label name")).toEqual({
      "thresholds.warning": "warning must not be above critical for comparison above",
      group_by: "'1x' is not a valid label name",
    });
    expect(fieldErrors("query: invalid PromQL query: 1:5: parse error: unexpected end of input; expected )")).toEqual({
      query: "invalid PromQL query: 1:5: parse error: unexpected end of input; expected )",
    });
    expect(fieldErrors("monitor 'cpu' already exists")).toEqual({ "": "monitor 'cpu' already exists" });
    expect(fieldErrors("labels.1a: '1a' is not a valid label name; bogus: Extra inputs are not permitted")).toEqual({
      labels: "'1a' is not a valid label name",
      "": "bogus: Extra inputs are not permitted",
    });
  });
});

describe("monitor chart", () => {
  const base = { name: "m", query: "rate(x[5m])" };
  it("draws the query, thresholds and no band for metric monitors", () => {
    const def: Definition = { ...base, type: "metric", thresholds: { critical: 10, critical_recovery: 10, warning: 5, warning_recovery: 4 } };
    expect(chartQueries(def)).toEqual([{ role: "value", expr: "rate(x[5m])", lang: "promql", label: "" }]);
    expect(thresholdLines(def)).toEqual([
      { name: "critical", value: 10, level: "critical", recovery: false },
      { name: "warning", value: 5, level: "warning", recovery: false },
      { name: "warning recovery", value: 4, level: "warning", recovery: true },
    ]);
    expect(chartQueries({ ...def, type: "log" })[0].lang).toBe("logql");
    expect(chartQueries({ ...def, type: "composite" })).toEqual([]);
  });
  it("draws anomaly and forecast bands with the extension functions", () => {
    const anomaly = chartQueries({ ...base, type: "anomaly", anomaly: { algorithm: "robust", bounds: 3, seasonality: "daily" }, thresholds: { critical: 0.5 } });
    expect(anomaly.map((q) => q.expr)).toEqual(["rate(x[5m])", 'anomaly_upper(rate(x[5m]), "robust", 3, "daily")', 'anomaly_lower(rate(x[5m]), "robust", 3, "daily")']);
    expect(chartQueries({ ...base, type: "anomaly", anomaly: { algorithm: "basic", bounds: 2, seasonality: "auto" } })[1].expr).toBe('anomaly_upper(rate(x[5m]), "basic", 2)');
    expect(thresholdLines({ ...base, type: "anomaly", thresholds: { critical: 0.5 } })).toEqual([]);
    const linear = chartQueries({ ...base, type: "forecast", forecast: { algorithm: "linear", model: "robust", seasonality: "daily", horizon: 3600 } });
    expect(linear.map((q) => q.role)).toEqual(["value", "upper", "lower"]);
    expect(linear.map((q) => q.label)).toEqual(["", "forecast +1h upper", "forecast +1h lower"]);
    expect(anomaly[1].label).toBe("band upper");
    expect(linear[2].expr).toBe('forecast_lower(rate(x[5m]), "linear", 3600, "robust")');
    expect(chartQueries({ ...base, type: "forecast", forecast: { algorithm: "seasonal", model: "reactive", seasonality: "weekly", horizon: 60 } })[1].expr).toBe('forecast_upper(rate(x[5m]), "seasonal", 60, "weekly")');
    expect(chartQueries({ ...base, type: "outlier", outlier: { algorithm: "mad", tolerance: 2.5, pct: 10 } })[1]).toEqual({ role: "outliers", expr: 'outliers(rate(x[5m]), "mad", 2.5, 10)', lang: "promql", label: "outlier" });
    expect(chartQueries({ ...base, type: "outlier", outlier: { algorithm: "dbscan", tolerance: null, pct: 20 } })[1].expr).toBe('outliers(rate(x[5m]), "dbscan")');
  });
  it("pairs upper and lower series with the same labels, ignoring the metric name", () => {
    const series: Array<{ role: Role; labels: Labels }> = [
      { role: "value", labels: { __name__: "x", a: "1" } },
      { role: "upper", labels: { a: "1" } },
      { role: "upper", labels: { a: "2" } },
      { role: "lower", labels: { a: "2" } },
      { role: "lower", labels: { a: "1" } },
    ];
    expect(bandPairs(series)).toEqual([[1, 4], [2, 3]]);
    expect(bandPairs(series.slice(0, 3))).toEqual([]);
  });
});

describe("ago", () => {
  it("says how long ago, or never", () => {
    expect(ago(new Date(Date.now() - 125_000).toISOString())).toBe("2m5s ago");
    expect(ago(undefined)).toBe("never");
    expect(ago("0001-01-01T00:00:00Z")).toBe("never");
  });
});
