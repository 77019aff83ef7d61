import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ImportError, allPanels, datasourceKind, importGrafana, sections } from "../src/lib/grafana";

const SHARED = [resolve(__dirname, "../../../shared/dashboards"), "/work/shared/dashboards"].find((p) => existsSync(p));

describe("Grafana import", () => {
  it("rejects what is not a dashboard", () => {
    expect(() => importGrafana("{")).toThrow(ImportError);
    expect(() => importGrafana("[]")).toThrow(ImportError);
    expect(() => importGrafana({ foo: 1 })).toThrow(/no panels/);
  });
  it("unwraps {dashboard: ...} and drops ids and __inputs", () => {
    const d = importGrafana({ dashboard: { id: 7, title: "x", panels: [], __inputs: [{}] } });
    expect(d.title).toBe("x");
    expect(d.id).toBeUndefined();
    expect(d.__inputs).toBeUndefined();
  });
  it("maps legacy panels: graph, singlestat, table-old", () => {
    const d = importGrafana({
      title: "old",
      panels: [
        { type: "graph", gridPos: { x: 0, y: 0, w: 12, h: 8 }, yaxes: [{ format: "bytes" }], stack: true, targets: [{ expr: "up" }] },
        { type: "singlestat", gridPos: { x: 12, y: 0, w: 6, h: 4 }, format: "percent", thresholds: "80,90", colors: ["green", "orange", "red"] },
        { type: "table-old", gridPos: { x: 18, y: 0, w: 6, h: 4 } },
      ],
    });
    expect(d.panels.map((p) => p.type)).toEqual(["timeseries", "stat", "table"]);
    expect(d.panels[0].fieldConfig?.defaults?.unit).toBe("bytes");
    expect((d.panels[0].fieldConfig?.defaults?.custom as { stacking: { mode: string } }).stacking.mode).toBe("normal");
    expect(d.panels[1].fieldConfig?.defaults?.thresholds?.steps).toEqual([{ value: null, color: "green" }, { value: 80, color: "orange" }, { value: 90, color: "red" }]);
  });
  it("converts the old rows schema to panels with gridPos", () => {
    const d = importGrafana({ title: "rows", rows: [{ title: "A", height: "300px", panels: [{ type: "graph", span: 6 }, { type: "graph", span: 6 }] }, { title: "B", collapse: true, panels: [{ type: "singlestat", span: 12 }] }] });
    const secs = sections(d.panels);
    expect(secs.map((s) => s.row?.title)).toEqual(["A", "B"]);
    expect(secs[0].panels.map((p) => p.gridPos)).toEqual([{ x: 0, y: 1, w: 12, h: 10 }, { x: 12, y: 1, w: 12, h: 10 }]);
    expect(secs[1].row?.collapsed).toBe(true);
    expect(allPanels(d.panels)).toHaveLength(3);
  });
  it("resolves data source kinds through datasource variables", () => {
    const vars = [{ name: "ds", type: "datasource", query: "loki" }];
    expect(datasourceKind({ type: "loki", uid: "x" })).toBe("loki");
    expect(datasourceKind("${ds}", vars)).toBe("loki");
    expect(datasourceKind({ uid: "${DS_PROMETHEUS}" })).toBe("prometheus");
  });
  it.runIf(SHARED !== undefined)("imports the shared community dashboards with every panel type supported", () => {
    for (const name of ["node-exporter-full.json", "k8s-views-global.json", "k8s-views-nodes.json"]) {
      const d = importGrafana(readFileSync(resolve(SHARED!, name), "utf8"));
      const panels = allPanels(d.panels);
      expect(panels.length).toBeGreaterThan(10);
      for (const p of panels) expect(["timeseries", "stat", "gauge", "bargauge", "table", "text", "logs"]).toContain(p.type);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(d.templating?.list.length).toBeGreaterThan(0);
    }
  });
});
