// Completion sources for the PromQL editor, backed by the Prometheus API (cached briefly).

import type { Suggestion } from "../components/editor";
import { prom } from "./api";
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
