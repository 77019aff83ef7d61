import { describe, expect, it } from "vitest";
import { alignMatrix, gridOf } from "../src/lib/align";

describe("alignMatrix", () => {
  const name = (l: Record<string, string>) => l.s ?? "";

  it("puts samples on the given grid, gaps as null, NaN/Inf as null", () => {
    const d = alignMatrix(
      [
        { metric: { s: "a" }, values: [[100, "1"], [130, "3"], [145, "NaN"]] },
        { metric: { s: "b" }, values: [[115, "+Inf"], [160, "2.5"], [175, "9"]] },
      ],
      name,
      100,
      160,
      15,
    );
    expect(d.xs).toEqual([100, 115, 130, 145, 160]);
    expect(d.series.map((s) => s.name)).toEqual(["a", "b"]);
    expect(d.series[0].values).toEqual([1, null, 3, null, null]);
    expect(d.series[1].values).toEqual([null, null, null, null, 2.5]);
  });

  it("drops samples off the grid and handles fractional steps", () => {
    const d = alignMatrix([{ metric: { s: "a" }, values: [[1.1, "1"], [1.15, "7"], [1.3, "2"]] }], name, 1.1, 1.3, 0.1);
    expect(d.xs).toEqual(gridOf(1.1, 1.3, 0.1));
    expect(d.xs).toEqual([1.1, 1.2, 1.3]);
    expect(d.series[0].values).toEqual([1, null, 2]);
  });

  it("without a grid uses the union of timestamps", () => {
    const d = alignMatrix(
      [
        { metric: { s: "a" }, values: [[3, "1"], [1, "2"]] },
        { metric: { s: "b" }, values: [[2, "5"]] },
      ],
      name,
    );
    expect(d.xs).toEqual([1, 2, 3]);
    expect(d.series[0].values).toEqual([2, null, 1]);
    expect(d.series[1].values).toEqual([null, 5, null]);
  });

  it("reuses a shared result's parsed column but hands out independent arrays", () => {
    const result = [{ metric: { s: "a" }, values: [[0, "1"], [10, "2"]] as Array<[number, string]> }];
    const one = alignMatrix(result, name, 0, 10, 10);
    one.series[0].values[0] = 99;
    const two = alignMatrix(result, () => "other", 0, 10, 10);
    expect(two.series[0].values).toEqual([1, 2]);
    expect(two.series[0].name).toBe("other");
    const coarser = alignMatrix(result, name, 0, 10, 5);
    expect(coarser.series[0].values).toEqual([1, null, 2]);
  });
});
