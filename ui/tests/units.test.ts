import { describe, expect, it } from "vitest";
import { formatValue, thresholdColor } from "../src/lib/units";

describe("Grafana units", () => {
  it("formats bytes with IEC and SI steps", () => {
    expect(formatValue(1536, "bytes")).toBe("1.5 KiB");
    expect(formatValue(3 * 1024 ** 3, "bytes")).toBe("3 GiB");
    expect(formatValue(1500, "decbytes")).toBe("1.5 kB");
    expect(formatValue(2048, "binBps")).toBe("2 KiB/s");
    expect(formatValue(2_000_000, "bps")).toBe("2 Mb/s");
    expect(formatValue(12, "bytes")).toBe("12 B");
  });
  it("formats percent and percentunit", () => {
    expect(formatValue(42.5, "percent")).toBe("42.5%");
    expect(formatValue(0.5, "percentunit")).toBe("50%");
    expect(formatValue(0.123, "percentunit", 1)).toBe("12.3%");
  });
  it("formats time units", () => {
    expect(formatValue(0.25, "s")).toBe("250 ms");
    expect(formatValue(90, "s")).toBe("1.5 min");
    expect(formatValue(7200, "s")).toBe("2 hour");
    expect(formatValue(1500, "ms")).toBe("1.5 s");
    expect(formatValue(93784, "dtdurations")).toBe("1d 2h 3m");
  });
  it("formats rates, booleans, temperatures, short and custom units", () => {
    expect(formatValue(1200, "ops")).toBe("1.2 kops/s");
    expect(formatValue(5, "pps")).toBe("5 p/s");
    expect(formatValue(1, "bool_yes_no")).toBe("Yes");
    expect(formatValue(0, "bool")).toBe("False");
    expect(formatValue(45, "celsius")).toBe("45°C");
    expect(formatValue(1_500_000, "short")).toBe("1.5 Mil");
    expect(formatValue(3, "read/s")).toBe("3 read/s");
    expect(formatValue(null, "bytes")).toBe("—");
    expect(formatValue(0.000123)).toBe("0.000123");
  });
  it("honours decimals", () => {
    expect(formatValue(3.14159, "none", 2)).toBe("3.14");
    expect(formatValue(1536, "bytes", 0)).toBe("2 KiB");
  });
  it("picks the threshold colour", () => {
    const th = { mode: "absolute" as const, steps: [{ value: null, color: "green" }, { value: 80, color: "red" }] };
    expect(thresholdColor(50, th)).toBe("#56a64b");
    expect(thresholdColor(80, th)).toBe("#e02f44");
    const pct = { mode: "percentage" as const, steps: [{ value: null, color: "green" }, { value: 50, color: "#ff0000" }] };
    expect(thresholdColor(6, pct, 0, 10)).toBe("#ff0000");
  });
});
