// Completion sources for the PromQL editor, backed by the Prometheus API (cached briefly).

import type { Suggestion } from "../components/editor";
import { prom } from "./api";
import { loki } from "./loki";
import { FUNCTIONS, KEYWORDS, completionContext, rank } from "./promql";

const cache = new Map<string, { at: number; value: Promise<string[]> }>();

function cached(key: string, load: () => Promise<string[]>): Promise<string[]> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < 30_000) return hit.value;
  const value = load().catch(() => []);
  cache.set(key, { at: Date.now(), value });
  return value;
}

export function metricNames(): Promise<string[]> {
  return cached("__name__", () => prom.labelValues("__name__"));
}

let metadata: Promise<Record<string, Array<{ type: string; help: string }>>> | null = null;

export async function promComplete(text: string, cursor: number): Promise<{ from: number; items: Suggestion[] } | null> {
  const ctx = completionContext(text, cursor);
  switch (ctx.kind) {
    case "metric": {
      if (!ctx.prefix) return null;
      metadata ??= prom.metadata().catch(() => ({}));
      const [names, meta] = await Promise.all([metricNames(), metadata]);
      const fnNames = FUNCTIONS.map(([n]) => n);
      const metrics = rank(names, ctx.prefix, 40).map((n) => ({ text: n, kind: "metric", detail: meta[n]?.[0]?.type }));
      const fns = rank(fnNames, ctx.prefix, 10).map((n) => ({ text: `${n}()`, label: n, kind: "function", detail: FUNCTIONS.find((f) => f[0] === n)?.[1] }));
      const kws = rank(KEYWORDS, ctx.prefix, 5).map((n) => ({ text: n, kind: "keyword" }));
      return { from: ctx.from, items: [...fns, ...metrics, ...kws].slice(0, 50) };
    }
    case "label": {
      const names = await cached(`labels:${ctx.metric ?? ""}`, () => prom.labels(ctx.metric ? [ctx.metric] : undefined));
      return { from: ctx.from, items: rank(names.filter((n) => n !== "__name__"), ctx.prefix).map((n) => ({ text: n, kind: "label" })) };
    }
    case "value": {
      const values = await cached(`values:${ctx.label}:${ctx.metric ?? ""}`, () => prom.labelValues(ctx.label, ctx.metric ? [ctx.metric] : undefined));
      return {
        from: ctx.from,
        items: rank(values, ctx.prefix).map((v) => ({ text: v.replace(/\\/g, "\\\\").replace(new RegExp(ctx.quote, "g"), `\\${ctx.quote}`), label: v, kind: "value" })),
      };
    }
    case "duration": {
      const d = ["1m", "5m", "15m", "1h", "$__rate_interval", "$__interval", "$__range"];
      return { from: ctx.from, items: rank(d, ctx.prefix).map((x) => ({ text: x, kind: "duration" })) };
    }
    default:
      return null;
  }
}

const LOGQL_WORDS: Array<[string, string]> = [
  ["json", "parser"], ["logfmt", "parser"], ["regexp", "parser"], ["pattern", "parser"], ["unpack", "parser"],
  ["line_format", "formatter"], ["label_format", "formatter"], ["drop", "labels"], ["keep", "labels"], ["decolorize", ""],
  ["unwrap", "range aggregation value"],
  ["count_over_time", "(log range)"], ["rate", "(log range)"], ["bytes_over_time", "(log range)"], ["bytes_rate", "(log range)"],
  ["absent_over_time", "(log range)"], ["sum_over_time", "(unwrapped range)"], ["avg_over_time", "(unwrapped range)"],
  ["max_over_time", "(unwrapped range)"], ["min_over_time", "(unwrapped range)"], ["quantile_over_time", "(φ, unwrapped range)"],
  ["sum", " by (labels) (v)"], ["avg", " by (labels) (v)"], ["max", " by (labels) (v)"], ["min", " by (labels) (v)"],
  ["count", " by (labels) (v)"], ["topk", "(k, v)"], ["bottomk", "(k, v)"], ["by", ""], ["without", ""],
];

/** Completion for the LogQL editor: label names and values inside `{...}` from the Loki API,
 * parsers and functions elsewhere. */
export async function lokiComplete(text: string, cursor: number): Promise<{ from: number; items: Suggestion[] } | null> {
  const ctx = completionContext(text, cursor);
  switch (ctx.kind) {
    case "label": {
      const names = await cached("loki:labels", () => loki.labels());
      return { from: ctx.from, items: rank(names, ctx.prefix).map((n) => ({ text: n, kind: "label" })) };
    }
    case "value": {
      const values = await cached(`loki:values:${ctx.label}`, () => loki.labelValues(ctx.label));
      return {
        from: ctx.from,
        items: rank(values, ctx.prefix).map((v) => ({ text: v.replace(/\\/g, "\\\\").replace(new RegExp(ctx.quote, "g"), `\\${ctx.quote}`), label: v, kind: "value" })),
      };
    }
    case "duration": {
      const d = ["1m", "5m", "15m", "1h", "$__interval", "$__auto"];
      return { from: ctx.from, items: rank(d, ctx.prefix).map((x) => ({ text: x, kind: "duration" })) };
    }
    case "metric": {
      if (!ctx.prefix) return null;
      const items = rank(LOGQL_WORDS.map(([w]) => w), ctx.prefix, 20).map((w) => {
        const detail = LOGQL_WORDS.find((x) => x[0] === w)?.[1] ?? "";
        const fn = detail.startsWith("(") || detail.startsWith(" by");
        return { text: fn ? `${w}()` : w, label: w, kind: fn ? "function" : "keyword", detail };
      });
      return { from: ctx.from, items };
    }
    default:
      return null;
  }
}
