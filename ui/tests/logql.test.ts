import { describe, expect, it } from "vitest";
import {
  buildSelector,
  cmpNs,
  fieldStats,
  normaliseLevel,
  parseSelector,
  selectionOf,
  selectorSpan,
  varyingLabels,
  volumeByLevel,
  volumeQuery,
  withFieldFilter,
  withLineFilter,
  withMatcher,
  withSelector,
} from "../src/lib/logql";
import { detectLevel, parseFields, tailLines, tailURL, toLines } from "../src/lib/loki";
import { logStoreSummary } from "../src/lib/logstatus";
import { errorPosition } from "../src/lib/promql";

describe("LogQL from the label browser", () => {
  it("builds selectors: one value is =, several are an escaped =~ alternation", () => {
    expect(buildSelector({})).toBe("");
    expect(buildSelector({ job: ["api"] })).toBe('{job="api"}');
    expect(buildSelector({ pod: ["a.b", "c|d"], app: ["x"] })).toBe('{app="x", pod=~"a\\\\.b|c\\\\|d"}');
    expect(buildSelector({ job: [] })).toBe("");
    expect(buildSelector({ msg: ['say "hi"'] })).toBe('{msg="say \\"hi\\""}');
  });
  it("reads the selection back from a query", () => {
    expect(selectionOf('{job="api", pod=~"a|b"} |= "x"')).toEqual({ job: ["api"], pod: ["a", "b"] });
    expect(selectionOf('{pod=~"a.*"}')).toEqual({}); // a real regex is not a value list
    expect(selectionOf(buildSelector({ pod: ["a.b", "c"] }))).toEqual({ pod: ["a.b", "c"] });
    expect(selectionOf('{job!="x"}')).toEqual({});
  });
  it("finds the selector span, skipping braces inside strings", () => {
    expect(selectorSpan('{a="}"} | json')).toEqual([0, 7]);
    expect(selectorSpan("sum(rate({a=`x}`}[1m]))")).toEqual([9, 17]);
    expect(selectorSpan("no selector")).toBeNull();
    expect(parseSelector('{a="1", b=~`x.*`, c!="q\\"r"}')).toEqual([
      { name: "a", op: "=", value: "1" },
      { name: "b", op: "=~", value: "x.*" },
      { name: "c", op: "!=", value: 'q"r' },
    ]);
  });
  it("replaces the selector and keeps the pipeline", () => {
    expect(withSelector('{job="a"} |= "err" | json', '{job="b"}')).toBe('{job="b"} |= "err" | json');
    expect(withSelector("", '{job="b"}')).toBe('{job="b"}');
    expect(withMatcher('{job="a"} | json', "pod", "!=", "p1")).toBe('{job="a", pod!="p1"} | json');
    expect(withMatcher('{job="a"}', "job", "=", "b")).toBe('{job="b"}');
  });
  it("adds field and line filters", () => {
    expect(withFieldFilter('{job="a"}', "json", "status", "500")).toBe('{job="a"} | json | status="500"');
    expect(withFieldFilter('{job="a"} | logfmt', "logfmt", "user.id", "7", true)).toBe('{job="a"} | logfmt | user_id!="7"');
    expect(withLineFilter('{job="a"} | json', "timeout")).toBe('{job="a"} |= "timeout" | json');
  });
});

describe("log volume", () => {
  it("counts lines per extracted level per step", () => {
    const q = volumeQuery('{job="a"} |= "x"', 60_000);
    expect(q.startsWith('sum by (level) (count_over_time({job="a"} |= "x" | regexp `')).toBe(true);
    expect(q.endsWith("` [60s]))")).toBe(true);
    expect(q).toContain("(?P<level>");
  });
  it("merges series by normalised level in severity order", () => {
    const merged = volumeByLevel([
      { metric: { level: "INFO" }, values: [[10, "2"]] },
      { metric: { level: "info" }, values: [[10, "3"], [20, "1"]] },
      { metric: {}, values: [[10, "4"]] },
      { metric: { level: "ERR" }, values: [[20, "5"]] },
    ]);
    expect(merged.map((s) => s.metric.level)).toEqual(["error", "info", "unknown"]);
    expect(merged[1].values).toEqual([[10, "5"], [20, "1"]]);
  });
});

describe("levels and fields", () => {
  it("detects the level from labels, key=value, JSON or a bare word", () => {
    expect(detectLevel("whatever", { level: "WARNING" })).toBe("warn");
    expect(detectLevel('ts=1 level=error msg="x"')).toBe("error");
    expect(detectLevel('{"lvl":"debug","msg":"x"}')).toBe("debug");
    expect(detectLevel("2024-01-01 FATAL disk gone")).toBe("error");
    expect(detectLevel("severity: notice")).toBe("info");
    expect(detectLevel("plain text")).toBe("unknown");
    expect(normaliseLevel("TRACE")).toBe("trace");
    expect(normaliseLevel(undefined)).toBe("unknown");
  });
  it("parses JSON (nested keys flattened) and logfmt lines", () => {
    expect(parseFields('{"level":"info","req":{"path":"/x","ms":12},"ok":true}')).toEqual({ level: "info", req_path: "/x", req_ms: "12", ok: "true" });
    expect(parseFields('level=warn msg="slow query" took=1.5s')).toEqual({ level: "warn", msg: "slow query", took: "1.5s" });
    expect(parseFields("just one=pair")).toBeNull();
    expect(parseFields("{not json")).toBeNull();
  });
  it("computes per-field value stats over loaded lines", () => {
    const rows: Array<Record<string, string> | null> = [{ status: "200" }, { status: "500" }, { status: "200" }, null, { other: "x" }];
    const st = fieldStats(rows, "status");
    expect(st.total).toBe(3);
    expect(st.values).toEqual([
      { value: "200", count: 2, percent: (200 / 3) },
      { value: "500", count: 1, percent: 100 / 3 },
    ]);
  });
  it("lists only the labels that differ between streams", () => {
    expect(varyingLabels([{ job: "a", pod: "1" }, { job: "a", pod: "2" }, { job: "a" }])).toEqual(["pod"]);
  });
});

describe("Loki results and tail", () => {
  it("turns streams into lines with structured metadata and levels", () => {
    const lines = toLines([{ stream: { job: "a" }, values: [["1700000000123456789", "level=error x=1", { trace_id: "t" }]] }]);
    expect(lines[0]).toMatchObject({ tsNs: "1700000000123456789", tsMs: 1700000000123, level: "error", labels: { job: "a", trace_id: "t" } });
  });
  it("orders nanosecond timestamps as numbers", () => {
    expect(cmpNs("999", "1000")).toBeLessThan(0);
    expect(cmpNs("1700000000000000002", "1700000000000000001")).toBeGreaterThan(0);
  });
  it("builds the tail URL and reads tail messages oldest first", () => {
    expect(tailURL('{job="a"}', "5", 10, { protocol: "https:", host: "h:1" })).toBe("wss://h:1/loki/api/v1/tail?query=%7Bjob%3D%22a%22%7D&start=5&limit=10");
    const msg = JSON.stringify({ streams: [{ stream: { job: "a" }, values: [["20", "b"], ["10", "a"]] }] });
    expect(tailLines(msg).map((l) => l.line)).toEqual(["a", "b"]);
  });
  it("points at Loki's parse error positions", () => {
    expect(errorPosition("parse error at line 1, col 7: syntax error")).toEqual({ line: 1, col: 7 });
    expect(errorPosition('invalid parameter "query": 1:17: parse error: unclosed left parenthesis')).toEqual({ line: 1, col: 17 });
    expect(errorPosition("2:3: parse error: x")).toEqual({ line: 2, col: 3 });
  });
  it("summarises log-store streams", () => {
    const s = logStoreSummary([{ job: "a", pod: "1" }, { job: "a", pod: "2" }, { pod: "2", job: "a" }]);
    expect(s.streams).toBe(2);
    expect(s.labelPairs).toBe(3);
    expect(s.streamsPerPair[0]).toEqual({ name: "job=a", value: 2 });
    expect(s.valuesPerLabel).toEqual([{ name: "pod", value: 2 }, { name: "job", value: 1 }]);
  });
});
