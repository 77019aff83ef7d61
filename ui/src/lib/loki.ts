// Loki API client (pharos serves it): query_range for streams, labels, tail WebSocket.

import { ApiError, getJSON, type QueryData } from "./api";
import { cmpNs, normaliseLevel } from "./logql";
import type { ResolvedRange } from "./time";

export interface LogLine {
  tsNs: string;
  tsMs: number;
  line: string;
  labels: Record<string, string>;
  level: string;
}

const LEVEL_RE = /\b(level|lvl|severity)["']?\s*[=:]\s*["']?(\w+)/i;
const WORD_RE = /\b(ERROR|ERR|FATAL|CRITICAL|CRIT|PANIC|WARN|WARNING|INFO|NOTICE|DEBUG|TRACE)\b/;

/** Log level of a line: its `level`/`detected_level` label, a level=/"level": field, or a word. */
export function detectLevel(line: string, labels: Record<string, string> = {}): string {
  const fromLabel = labels.detected_level ?? labels.level ?? labels.severity ?? labels.lvl;
  return normaliseLevel(fromLabel ?? LEVEL_RE.exec(line)?.[2] ?? WORD_RE.exec(line)?.[1] ?? "unknown");
}

/** Fields of a JSON or logfmt line; null when it is neither. */
export function parseFields(line: string): Record<string, string> | null {
  const t = line.trim();
  if (t.startsWith("{")) {
    try {
      const obj = JSON.parse(t) as unknown;
      if (obj && typeof obj === "object" && !Array.isArray(obj)) {
        const out: Record<string, string> = {};
        const walk = (o: Record<string, unknown>, prefix: string) => {
          for (const [k, v] of Object.entries(o)) {
            if (v && typeof v === "object" && !Array.isArray(v)) walk(v as Record<string, unknown>, `${prefix}${k}_`);
            else out[`${prefix}${k}`] = typeof v === "string" ? v : JSON.stringify(v);
          }
        };
        walk(obj as Record<string, unknown>, "");
        return out;
      }
    } catch {
      return null;
    }
  }
  const re = /([\w.\-/]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  const out: Record<string, string> = {};
  let n = 0;
  for (const m of t.matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    out[m[1]] = v;
    n++;
  }
  return n >= 2 ? out : null;
}

interface StreamsResult {
  data: {
    resultType: string;
    result: Array<{ stream?: Record<string, string>; values?: Array<[string, string] | [string, string, Record<string, string>]>; metric?: Record<string, string> }>;
  };
}

export type LogsResult = { kind: "ok"; lines: LogLine[]; resultType: string; raw: StreamsResult["data"] } | { kind: "unavailable" };

export function toLines(result: StreamsResult["data"]["result"]): LogLine[] {
  const lines: LogLine[] = [];
  for (const s of result) {
    const labels = s.stream ?? {};
    for (const v of s.values ?? []) {
      const [ts, line] = v;
      const meta = (v[2] ?? {}) as Record<string, string>;
      const all = { ...labels, ...meta };
      lines.push({ tsNs: ts, tsMs: Number(BigInt(ts) / 1_000_000n), line, labels: all, level: detectLevel(line, all) });
    }
  }
  return lines;
}

/** Lines of a log query, sorted in `direction`; `page` narrows the range to nanosecond bounds
 * (Loki's start is inclusive, end exclusive) for "older"/"newer" paging. */
export async function queryLogs(expr: string, range: ResolvedRange, limit: number, direction: "backward" | "forward", signal?: AbortSignal, page?: { startNs?: string; endNs?: string }): Promise<LogsResult> {
  const p = new URLSearchParams({
    query: expr,
    start: page?.startNs ?? `${BigInt(range.start) * 1_000_000n}`,
    end: page?.endNs ?? `${BigInt(range.end) * 1_000_000n}`,
    limit: String(limit),
    direction,
  });
  let r: StreamsResult;
  try {
    r = await getJSON<StreamsResult>(`/loki/api/v1/query_range?${p}`, signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { kind: "unavailable" };
    throw e;
  }
  const lines = r.data.resultType === "streams" ? toLines(r.data.result) : [];
  lines.sort((a, b) => (direction === "backward" ? cmpNs(b.tsNs, a.tsNs) : cmpNs(a.tsNs, b.tsNs)));
  return { kind: "ok", lines, resultType: r.data.resultType, raw: r.data };
}

function rangeParams(range?: ResolvedRange, query?: string): string {
  const p = new URLSearchParams();
  if (range) {
    p.set("start", `${range.start}000000`);
    p.set("end", `${range.end}000000`);
  }
  if (query) p.set("query", query);
  const s = p.toString();
  return s ? `?${s}` : "";
}

export interface IndexStats {
  streams: number;
  chunks: number;
  bytes: number;
  entries: number;
}

export const loki = {
  labels: (range?: ResolvedRange, query?: string) => getJSON<{ data?: string[] }>(`/loki/api/v1/labels${rangeParams(range, query)}`).then((r) => r.data ?? []),
  labelValues: (name: string, range?: ResolvedRange, query?: string) =>
    getJSON<{ data?: string[] }>(`/loki/api/v1/label/${encodeURIComponent(name)}/values${rangeParams(range, query)}`).then((r) => r.data ?? []),
  series: (match: string, range?: ResolvedRange) => {
    const p = new URLSearchParams({ "match[]": match });
    if (range) {
      p.set("start", `${range.start}000000`);
      p.set("end", `${range.end}000000`);
    }
    return getJSON<{ data?: Array<Record<string, string>> }>(`/loki/api/v1/series?${p}`).then((r) => r.data ?? []);
  },
  stats: (query: string, range?: ResolvedRange) => getJSON<IndexStats>(`/loki/api/v1/index/stats${rangeParams(range, query)}`),
  volume: (query: string, targetLabel: string, range?: ResolvedRange, limit = 20) => {
    const p = rangeParams(range, query);
    return getJSON<{ data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }>(
      `/loki/api/v1/index/volume${p}&targetLabels=${encodeURIComponent(targetLabel)}&limit=${limit}`,
    ).then((r) => r.data.result ?? []);
  },
};

/** The tail WebSocket's URL for a log query, from `startNs` on. */
export function tailURL(query: string, startNs: string, limit = 100, loc: { protocol: string; host: string } = location): string {
  const p = new URLSearchParams({ query, start: startNs, limit: String(limit) });
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/loki/api/v1/tail?${p}`;
}

/** Lines of one tail message (`{"streams": [...]}`), oldest first. */
export function tailLines(message: string): LogLine[] {
  const m = JSON.parse(message) as { streams?: StreamsResult["data"]["result"] };
  const lines = toLines(m.streams ?? []);
  lines.sort((a, b) => cmpNs(a.tsNs, b.tsNs));
  return lines;
}

/** A LogQL metric query over a range (Loki answers a Prometheus-shaped matrix), of `tenant`
 * (X-Scope-OrgID; the server's default `fake` without). */
export async function lokiMetricQuery(expr: string, range: ResolvedRange, stepMs: number, signal?: AbortSignal, tenant?: string): Promise<QueryData> {
  const p = new URLSearchParams({
    query: expr,
    start: `${BigInt(range.start) * 1_000_000n}`,
    end: `${BigInt(range.end) * 1_000_000n}`,
    step: String(stepMs / 1000),
  });
  const r = await getJSON<{ data: QueryData }>(`/loki/api/v1/query_range?${p}`, signal, tenant ? { "X-Scope-OrgID": tenant } : undefined);
  if (r.data.resultType === ("streams" as string)) return { resultType: "matrix", result: [] };
  return r.data;
}
