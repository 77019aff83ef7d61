import { describe, expect, it } from "vitest";
import { ALL, applyRegex, customOptions, formatLegend, interpolate, parseVariableQuery, rateInterval, computeInterval, sortValues, type VariableValues } from "../src/lib/variables";

const vars: VariableValues = {
  job: { values: ["node"], options: ["node", "pharos"], multi: false, includeAll: false },
  inst: { values: ["a:9100", "b.x:9100"], options: ["a:9100", "b.x:9100", "c"], multi: true, includeAll: true },
  all: { values: [ALL], options: ["x", "y"], multi: true, includeAll: true },
  allv: { values: [ALL], options: ["x", "y"], multi: true, includeAll: true, allValue: ".*" },
  none: { values: [], options: [], multi: false, includeAll: false },
};
const builtins = { intervalMs: 30_000, rateIntervalMs: rateInterval(30_000, 15_000), rangeMs: 3_600_000, fromMs: 1000, toMs: 3_601_000 };

describe("interpolation", () => {
  it("replaces single values", () => {
    expect(interpolate('up{job="$job"}', vars)).toBe('up{job="node"}');
    expect(interpolate('up{job="${job}"}', vars)).toBe('up{job="node"}');
    expect(interpolate('up{job="[[job]]"}', vars)).toBe('up{job="node"}');
  });
  it("joins multi values as an escaped regex", () => {
    expect(interpolate('up{instance=~"$inst"}', vars)).toBe('up{instance=~"(a:9100|b\\\\.x:9100)"}');
  });
  it("expands All to every option, or to allValue", () => {
    expect(interpolate('up{x=~"$all"}', vars)).toBe('up{x=~"(x|y)"}');
    expect(interpolate('up{x=~"$allv"}', vars)).toBe('up{x=~".*"}');
  });
  it("supports formats", () => {
    expect(interpolate("${inst:csv}", vars)).toBe("a:9100,b.x:9100");
    expect(interpolate("${inst:pipe}", vars)).toBe("a:9100|b.x:9100");
    expect(interpolate("${inst:json}", vars)).toBe('["a:9100","b.x:9100"]');
  });
  it("fills built-ins", () => {
    expect(interpolate("rate(x[$__rate_interval])", vars, builtins)).toBe("rate(x[1m])");
    expect(interpolate("rate(x[$__interval])", vars, builtins)).toBe("rate(x[30s])");
    expect(interpolate("increase(x[$__range])", vars, builtins)).toBe("increase(x[3600s])");
    expect(interpolate("$__range_s $__interval_ms", vars, builtins)).toBe("3600 30000");
  });
  it("leaves unknown names and gives empty for no values", () => {
    expect(interpolate("$nope", vars)).toBe("$nope");
    expect(interpolate('up{c="$none"}', vars)).toBe('up{c=""}');
  });
  it("computes $__interval and $__rate_interval like Grafana", () => {
    expect(computeInterval(3_600_000, 1000)).toBe(5000);
    expect(computeInterval(3_600_000, 1000, 15_000)).toBe(15_000);
    expect(rateInterval(5000, 15_000)).toBe(60_000);
    expect(rateInterval(120_000, 15_000)).toBe(135_000);
  });
});

describe("variable queries", () => {
  it("parses label_values with and without a selector", () => {
    expect(parseVariableQuery("label_values(node_uname_info, job)")).toEqual({ kind: "label_values", match: "node_uname_info", label: "job" });
    expect(parseVariableQuery({ query: 'label_values(node_uname_info{job="$job"}, instance)', refId: "x" })).toEqual({ kind: "label_values", match: 'node_uname_info{job="$job"}', label: "instance" });
    expect(parseVariableQuery("label_values(job)")).toEqual({ kind: "label_values", match: undefined, label: "job" });
    expect(parseVariableQuery({ qryType: 1, query: "label_values(kube_node_info,cluster)" }).kind).toBe("label_values");
    expect(parseVariableQuery("query_result(up)")).toEqual({ kind: "query_result", expr: "up" });
    expect(parseVariableQuery("metrics(node_.*)")).toEqual({ kind: "metrics", regex: "node_.*" });
  });
  it("parses custom options with key : value", () => {
    expect(customOptions("1s, 15s, 30s")).toEqual([{ text: "1s", value: "1s" }, { text: "15s", value: "15s" }, { text: "30s", value: "30s" }]);
    expect(customOptions("prod : p1,dev : d1")).toEqual([{ text: "prod", value: "p1" }, { text: "dev", value: "d1" }]);
  });
  it("filters with regex and capture groups, sorts", () => {
    expect(applyRegex(["node-1:9100", "db:5432"], "/(.*):9100/")).toEqual(["node-1"]);
    expect(applyRegex(["a", "b"], "")).toEqual(["a", "b"]);
    expect(sortValues(["b10", "a2", "c1"], 1)).toEqual(["a2", "b10", "c1"]);
    expect(sortValues(["b10", "a2", "c1"], 3)).toEqual(["c1", "a2", "b10"]);
  });
  it("formats legends", () => {
    expect(formatLegend("{{instance}} - {{mode}}", { instance: "a", mode: "idle" })).toBe("a - idle");
    expect(formatLegend(undefined, { __name__: "up", job: "x" })).toBe('up{job="x"}');
  });
});
