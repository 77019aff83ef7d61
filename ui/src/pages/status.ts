// Targets (health, last scrape, duration, error, labels before relabelling) and status pages.

import { getJSON } from "../lib/api";
import { loki } from "../lib/loki";
import { logStoreSummary } from "../lib/logstatus";
import { h, replace } from "../lib/dom";
import { formatDate } from "../lib/time";
import { labelChips } from "../components/labels";
import { formatValue } from "../lib/units";

interface Target {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: string;
  scrapeInterval?: string;
}

function ago(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t < 86_400_000) return "never";
  const s = Math.max(0, (Date.now() - t) / 1000);
  return s < 60 ? `${s.toFixed(1)}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : formatDate(t);
}

export function targetsPage(root: HTMLElement): () => void {
  const body = h("div", { "data-testid": "targets" }, h("div", { class: "empty" }, "Loading…"));
  const filter = h("input", { class: "input", placeholder: "Filter by endpoint or labels", "data-testid": "targets-filter" });
  const unhealthy = h("input", { type: "checkbox" });
  root.append(h("div", { class: "page-head" }, h("h1", null, "Targets"), h("div", { class: "spacer" }), h("label", { class: "row" }, unhealthy, "Unhealthy only"), filter), body);
  let data: {
    activeTargets: Target[];
    droppedTargets: Array<{ discoveredLabels: Record<string, string> }>;
    discoveryErrors?: Record<string, string[]>;
  } | null = null;

  const render = () => {
    if (!data) return;
    const f = filter.value.toLowerCase();
    const pools = new Map<string, Target[]>();
    for (const t of data.activeTargets) {
      if (unhealthy.checked && t.health === "up") continue;
      const text = `${t.scrapeUrl} ${JSON.stringify(t.labels)}`.toLowerCase();
      if (f && !text.includes(f)) continue;
      pools.set(t.scrapePool, [...(pools.get(t.scrapePool) ?? []), t]);
    }
    const sections = [...pools.entries()].sort().map(([pool, ts]) => {
      const up = ts.filter((t) => t.health === "up").length;
      return h(
        "details",
        { class: "card pool", open: true },
        h("summary", null, h("b", null, pool), h("span", { class: `badge ${up === ts.length ? "ok" : "bad"}` }, `${up}/${ts.length} up`)),
        h(
          "table",
          { class: "data" },
          h("thead", null, h("tr", null, ...["Endpoint", "State", "Labels", "Last scrape", "Duration", "Error"].map((c) => h("th", null, c)))),
          h(
            "tbody",
            null,
            ...ts.map((t) =>
              h(
                "tr",
                null,
                h("td", null, h("a", { href: t.scrapeUrl, class: "mono" }, t.scrapeUrl), h("details", { class: "discovered" }, h("summary", { class: "muted" }, "discovered labels"), labelChips(t.discoveredLabels))),
                h("td", null, h("span", { class: `badge ${t.health === "up" ? "ok" : t.health === "down" ? "bad" : "warn"}` }, t.health.toUpperCase())),
                h("td", null, labelChips(t.labels)),
                h("td", { title: t.lastScrape }, ago(t.lastScrape)),
                h("td", { class: "num" }, formatValue(t.lastScrapeDuration, "s")),
                h("td", { class: "error-text" }, t.lastError),
              ),
            ),
          ),
        ),
      );
    });
    const dropped = data.droppedTargets.length
      ? h("details", { class: "card" }, h("summary", null, `Dropped targets (${data.droppedTargets.length}) — labels before relabelling`), ...data.droppedTargets.map((d) => labelChips(d.discoveredLabels)))
      : null;
    const discoveryErrors = Object.entries(data.discoveryErrors ?? {}).map(([pool, errors]) =>
      h("div", { class: "error-box", "data-testid": "discovery-error" }, h("b", null, `${pool}: service discovery failing`), ...errors.map((e) => h("div", { class: "mono" }, e))),
    );
    replace(body, ...discoveryErrors, sections.length ? sections : h("div", { class: "empty" }, "No targets match."), dropped);
  };
  const load = async () => {
    try {
      data = (await getJSON<{ data: NonNullable<typeof data> }>("/api/v1/targets")).data;
      render();
      root.dataset.state = "done";
    } catch (e) {
      replace(body, h("div", { class: "error-box" }, (e as Error).message));
      root.dataset.state = "error";
    }
  };
  filter.addEventListener("input", render);
  unhealthy.addEventListener("change", render);
  void load();
  const timer = setInterval(load, 15_000);
  return () => clearInterval(timer);
}

function kv(obj: Record<string, unknown>): HTMLElement {
  return h("table", { class: "data kv" }, h("tbody", null, ...Object.entries(obj).map(([k, v]) => h("tr", null, h("th", null, k), h("td", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))))));
}

function topList(title: string, rows: Array<{ name: string; value: number }> | undefined, unit?: string): HTMLElement {
  return h(
    "div",
    { class: "card" },
    h("h3", null, title),
    rows && rows.length
      ? h("table", { class: "data" }, h("thead", null, h("tr", null, h("th", null, "Name"), h("th", { class: "num" }, unit === "bytes" ? "Bytes" : "Count"))), h("tbody", null, ...rows.map((r) => h("tr", null, h("td", { class: "mono" }, r.name), h("td", { class: "num" }, unit ? formatValue(r.value, unit) : String(r.value))))))
      : h("div", { class: "muted" }, "none"),
  );
}

/** Log-store status: streams and entries from /loki/api/v1/series, index/stats and index/volume
 * over the last 24 hours (Loki's APIs need a selector, so one per label name, merged). */
async function logStoreCards(): Promise<HTMLElement[]> {
  const now = Date.now();
  const range = { start: now - 86_400_000, end: now };
  const names = await loki.labels(range);
  if (!names.length) return [h("div", { class: "card", "data-testid": "logstore" }, h("h3", null, "Log store"), h("div", { class: "muted" }, "No log streams in the last 24 hours."))];
  const picked = names.slice(0, 40);
  const seriesPerLabel = await Promise.all(picked.map((n) => loki.series(`{${n}=~".+"}`, range).catch(() => [] as Array<Record<string, string>>)));
  const sum = logStoreSummary(seriesPerLabel.flat());
  const main = ["service_name", "job", "namespace", "app", "container", "filename"].find((n) => names.includes(n)) ?? names[0];
  const [stats, volume] = await Promise.all([
    loki.stats(`{${main}=~".+"}`, range).catch(() => null),
    loki.volume(`{${main}=~".+"}`, main, range, 10).catch(() => []),
  ]);
  return [
    h(
      "div",
      { class: "card", "data-testid": "logstore" },
      h("h3", null, "Log store (streams of the last 24 hours)"),
      kv({
        "Number of streams": sum.streams,
        "Label names": names.length,
        "Label pairs": sum.labelPairs,
        [`Streams with ${main}`]: stats?.streams ?? "",
        [`Entries (streams with ${main})`]: stats?.entries ?? "",
        [`Bytes (streams with ${main})`]: stats ? formatValue(stats.bytes, "bytes") : "",
        [`Chunks (streams with ${main})`]: stats?.chunks ?? "",
      }),
    ),
    topList(`Log store: top ${main} by bytes`, volume.map((v) => ({ name: v.metric[main] ?? "", value: Math.round(Number(v.value[1])) })), "bytes"),
    topList("Log store: top label names by value count", sum.valuesPerLabel),
    topList("Log store: top stream count by label value pair", sum.streamsPerPair),
  ];
}

export function statusPage(root: HTMLElement): () => void {
  const body = h("div", { class: "status-grid", "data-testid": "status" }, h("div", { class: "empty" }, "Loading…"));
  const logTops = h("div", { style: { display: "none" } });
  // The log store's summary sits next to the TSDB head; its top lists follow the TSDB's.
  const logSlot = h("div", { class: "card" }, h("h3", null, "Log store"), h("div", { class: "muted" }, "Loading…"));
  root.append(h("div", { class: "page-head" }, h("h1", null, "Status")), body);
  const logCards = logStoreCards();
  const get = (p: string) => getJSON<{ data: Record<string, unknown> }>(p).then((r) => r.data).catch((e: Error) => ({ error: e.message }));
  void Promise.all([get("/api/v1/status/buildinfo"), get("/api/v1/status/runtimeinfo"), get("/api/v1/status/tsdb"), get("/api/v1/status/flags"), get("/api/v1/status/config")]).then(([build, runtime, tsdb, flags, config]) => {
    const t = tsdb as Record<string, unknown> & { headStats?: Record<string, number> };
    const head = t.headStats ?? {};
    replace(
      body,
      h("div", { class: "card" }, h("h3", null, "Build information"), kv(build)),
      h("div", { class: "card" }, h("h3", null, "Runtime information"), kv(runtime)),
      h(
        "div",
        { class: "card" },
        h("h3", null, "TSDB head"),
        kv({
          "Number of series": head.numSeries ?? "",
          "Label pairs": head.numLabelPairs ?? "",
          "Min time": head.minTime ? formatDate(head.minTime) : "",
          "Max time": head.maxTime ? formatDate(head.maxTime) : "",
        }),
      ),
      logSlot,
      topList("Top series count by metric name", t.seriesCountByMetricName as never),
      topList("Top label names by value count", t.labelValueCountByLabelName as never),
      topList("Top memory use by label name (bytes)", t.memoryInBytesByLabelName as never),
      topList("Top series count by label value pair", t.seriesCountByLabelValuePair as never),
      logTops,
      h("div", { class: "card" }, h("h3", null, "Command-line flags"), kv(flags)),
      h("div", { class: "card wide" }, h("h3", null, "Configuration"), h("pre", { class: "code" }, String((config as { yaml?: string }).yaml ?? JSON.stringify(config)))),
    );
    root.dataset.state = "done";
    void logCards
      .then(([summary, ...cards]) => {
        logSlot.replaceWith(summary);
        logTops.replaceWith(...cards);
      })
      .catch((e: Error) => replace(logSlot, h("h3", null, "Log store"), h("div", { class: "error-text" }, e.message)))
      .finally(() => (root.dataset.logs = "done"));
  });
  return () => undefined;
}
