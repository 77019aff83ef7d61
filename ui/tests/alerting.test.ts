import { describe, expect, it } from "vitest";
import { filterParams, matcherText, matchersFromFilter, silenceFilter, silenceState } from "../src/lib/alerting";
import { logsLinkFor, metricsLinkFor } from "../src/pages/links";

describe("Alertmanager matchers", () => {
  it("parses filters with or without braces and quotes", () => {
    expect(matchersFromFilter('{alertname="A", severity=~"crit.*"}')).toEqual([
      { name: "alertname", value: "A", isRegex: false, isEqual: true },
      { name: "severity", value: "crit.*", isRegex: true, isEqual: true },
    ]);
    expect(matchersFromFilter("job!=node, env!~dev")).toEqual([
      { name: "job", value: "node", isRegex: false, isEqual: false },
      { name: "env", value: "dev", isRegex: true, isEqual: false },
    ]);
    expect(matchersFromFilter("")).toEqual([]);
  });
  it("prints matchers and filter parameters", () => {
    expect(matcherText({ name: "a", value: 'x"y', isRegex: false, isEqual: true })).toBe('a="x\\"y"');
    expect(matcherText({ name: "a", value: "x", isRegex: true, isEqual: false })).toBe('a!~"x"');
    expect(filterParams(matchersFromFilter('{a="1",b="2"}')).getAll("filter")).toEqual(['a="1"', 'b="2"']);
  });
  it("prefills a silence with all of an alert's labels, alertname first", () => {
    const f = silenceFilter({ severity: "warning", alertname: "Disk", instance: "n1" });
    expect(f).toBe('{alertname="Disk", instance="n1", severity="warning"}');
    expect(matchersFromFilter(f).map((m) => m.name)).toEqual(["alertname", "instance", "severity"]);
  });
  it("derives a silence's state", () => {
    const now = Date.parse("2024-01-01T12:00:00Z");
    expect(silenceState({ startsAt: "2024-01-01T11:00:00Z", endsAt: "2024-01-01T13:00:00Z" }, now)).toBe("active");
    expect(silenceState({ startsAt: "2024-01-01T12:30:00Z", endsAt: "2024-01-01T13:00:00Z" }, now)).toBe("pending");
    expect(silenceState({ startsAt: "2024-01-01T10:00:00Z", endsAt: "2024-01-01T11:00:00Z" }, now)).toBe("expired");
    expect(silenceState({ startsAt: "", endsAt: "", status: { state: "expired" } }, now)).toBe("expired");
  });
});

describe("metrics <-> logs links", () => {
  const range = { from: "now-1h", to: "now" };
  it("links a pod series to its logs and a job series to the job's logs", () => {
    const pod = logsLinkFor({ __name__: "x", namespace: "ns", pod: "p", container: "c" }, range)!;
    expect(pod.href.startsWith("/logs?")).toBe(true);
    expect(new URLSearchParams(pod.href.split("?")[1]).get("q")).toBe('{namespace="ns", pod="p", container="c"}');
    const job = logsLinkFor({ job: "node", instance: "h:9100" }, range)!;
    expect(new URLSearchParams(job.href.split("?")[1]).get("q")).toBe('{job="node", instance="h:9100"}');
    expect(logsLinkFor({ __name__: "x" }, range)).toBeNull();
  });
  it("links a log stream to its pod's metrics", () => {
    const l = metricsLinkFor({ namespace: "ns", pod: "p", container: "c", filename: "/x" }, range)!;
    expect(new URLSearchParams(l.href.split("?")[1]).get("q")).toBe('{namespace="ns", pod="p"}');
    expect(metricsLinkFor({ filename: "/x" }, range)).toBeNull();
  });
});
