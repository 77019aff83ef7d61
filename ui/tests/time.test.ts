import { describe, expect, it } from "vitest";
import { autoStep, describeRange, formatDuration, formatInterval, parseDuration, parseTime, resolveRange, zoomOut } from "../src/lib/time";

const NOW = Date.UTC(2026, 10, 27, 12, 30, 15);

describe("durations", () => {
  it("parses Prometheus durations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("15s")).toBe(15_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2")).toBe(2000);
    expect(parseDuration("1x")).toBeNull();
    expect(parseDuration("")).toBeNull();
  });
  it("formats the shortest form", () => {
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(1500)).toBe("1s500ms");
    expect(formatDuration(0)).toBe("0s");
    expect(formatInterval(60_000)).toBe("1m");
    expect(formatInterval(15_000)).toBe("15s");
    expect(formatInterval(7_200_000)).toBe("2h");
  });
});

describe("time ranges", () => {
  it("resolves relative expressions", () => {
    expect(parseTime("now", NOW)).toBe(NOW);
    expect(parseTime("now-1h", NOW)).toBe(NOW - 3_600_000);
    expect(parseTime("now-1h-30m", NOW)).toBe(NOW - 5_400_000);
    expect(parseTime("now+5m", NOW)).toBe(NOW + 300_000);
  });
  it("rounds to the start or end of a unit", () => {
    const start = parseTime("now/d", NOW)!;
    const end = parseTime("now/d", NOW, true)!;
    expect(new Date(start).getHours()).toBe(0);
    expect(end - start).toBe(86_400_000 - 1);
    const yStart = parseTime("now-1d/d", NOW)!;
    expect(start - yStart).toBe(86_400_000);
  });
  it("accepts epoch ms, epoch s and ISO dates", () => {
    expect(parseTime("1795773374000", NOW)).toBe(1795773374000);
    expect(parseTime("1795773374", NOW)).toBe(1795773374000);
    expect(parseTime("2026-11-27T10:00:00Z", NOW)).toBe(Date.UTC(2026, 10, 27, 10));
    expect(parseTime("yesterday", NOW)).toBeNull();
  });
  it("falls back to the last hour when invalid or inverted", () => {
    expect(resolveRange({ from: "now", to: "now-1h" }, NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
    expect(resolveRange({ from: "now-6h", to: "now" }, NOW)).toEqual({ start: NOW - 21_600_000, end: NOW });
  });
  it("describes ranges", () => {
    expect(describeRange({ from: "now-1h", to: "now" })).toBe("Last 1 hour");
    expect(describeRange({ from: "now-45m", to: "now" })).toBe("Last 45 minutes");
  });
  it("zooms out around the centre without passing now", () => {
    const r = zoomOut({ start: NOW - 3_600_000, end: NOW - 1_800_000 }, 2, NOW);
    expect(r.end - r.start).toBe(3_600_000);
    expect(r.end).toBeLessThanOrEqual(NOW);
  });
  it("picks a nice step for the width", () => {
    expect(autoStep({ start: 0, end: 3_600_000 }, 1000)).toBe(5000);
    expect(autoStep({ start: 0, end: 60_000 }, 1000)).toBe(1000);
  });
});
