// Clients of pharos' public HTTP APIs (Prometheus, Loki, Alertmanager, dashboards).

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public errorType?: string,
  ) {
    super(message);
  }
}

async function request<T>(url: string, init?: RequestInit): Promise<T> {
  let resp: Response;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(`cannot reach pharos: ${(e as Error).message}`, 0);
  }
  const text = await resp.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!resp.ok) {
    const b = body as { error?: string; errorType?: string; message?: string } | undefined;
    const msg = b?.error ?? b?.message ?? (text.trim() || `HTTP ${resp.status}`);
    throw new ApiError(msg, resp.status, b?.errorType);
  }
  if (body && typeof body === "object" && (body as { status?: string }).status === "error") {
    const b = body as { error?: string; errorType?: string };
    throw new ApiError(b.error ?? "error", resp.status, b.errorType);
  }
  return body as T;
}

export function getJSON<T>(url: string, signal?: AbortSignal, headers?: Record<string, string>): Promise<T> {
  return request<T>(url, { signal, headers });
}

export function sendJSON<T>(method: string, url: string, body?: unknown): Promise<T> {
  return request<T>(url, {
    method,
    headers: body === undefined ? undefined : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function form(params: Record<string, string | number | undefined | string[]>): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.set(k, String(v));
  }
  return p;
}

/** POST form-encoded (long queries don't fit a URL), as Grafana does. */
async function promPost<T>(path: string, params: Record<string, string | number | undefined | string[]>, signal?: AbortSignal): Promise<T> {
  const r = await request<{ data: T; warnings?: string[]; infos?: string[] }>(path, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form(params),
    signal,
  });
  return r.data;
}

export type Labels = Record<string, string>;
export interface MatrixSeries {
  metric: Labels;
  values?: Array<[number, string]>;
  histograms?: unknown[];
}
export interface VectorSample {
  metric: Labels;
  value?: [number, string];
}
export type QueryData =
  | { resultType: "matrix"; result: MatrixSeries[] }
  | { resultType: "vector"; result: VectorSample[] }
  | { resultType: "scalar"; result: [number, string] }
  | { resultType: "string"; result: [number, string] };

export const prom = {
  query(query: string, time?: number, signal?: AbortSignal) {
    return promPost<QueryData>("/api/v1/query", { query, time: time === undefined ? undefined : time / 1000 }, signal);
  },
  queryRange(query: string, startMs: number, endMs: number, stepMs: number, signal?: AbortSignal) {
    return promPost<QueryData>(
      "/api/v1/query_range",
      { query, start: startMs / 1000, end: endMs / 1000, step: stepMs / 1000 },
      signal,
    );
  },
  labelValues(label: string, match?: string[], startMs?: number, endMs?: number) {
    const p = form({ "match[]": match, start: startMs && startMs / 1000, end: endMs && endMs / 1000 });
    return getJSON<{ data: string[] }>(`/api/v1/label/${encodeURIComponent(label)}/values?${p}`).then((r) => r.data ?? []);
  },
  labels(match?: string[], startMs?: number, endMs?: number) {
    const p = form({ "match[]": match, start: startMs && startMs / 1000, end: endMs && endMs / 1000 });
    return getJSON<{ data: string[] }>(`/api/v1/labels?${p}`).then((r) => r.data ?? []);
  },
  series(match: string[], startMs?: number, endMs?: number) {
    return promPost<Labels[]>("/api/v1/series", { "match[]": match, start: startMs && startMs / 1000, end: endMs && endMs / 1000 });
  },
  metadata() {
    return getJSON<{ data: Record<string, Array<{ type: string; help: string; unit: string }>> }>("/api/v1/metadata").then((r) => r.data ?? {});
  },
  formatQuery(query: string) {
    return getJSON<{ data: string }>(`/api/v1/format_query?${form({ query })}`).then((r) => r.data);
  },
};

interface SharedEntry {
  promise: Promise<unknown>;
  users: number;
  controller: AbortController;
}
const sharedInflight = new Map<string, SharedEntry>();

function abortError(): Error {
  return new DOMException("The operation was aborted.", "AbortError");
}

/** One request for identical concurrent callers (dashboards often repeat a query across panels):
 * the first caller's `run` is started, later callers with the same `key` join it while it is in
 * flight. Each caller's `signal` only detaches that caller; the request itself is aborted when
 * every caller has gone. The result is shared, so callers must not mutate it. */
export function shared<T>(key: string, run: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(abortError());
  let entry = sharedInflight.get(key);
  if (!entry) {
    const controller = new AbortController();
    const created: SharedEntry = { promise: Promise.resolve(), users: 0, controller };
    created.promise = run(controller.signal).finally(() => {
      if (sharedInflight.get(key) === created) sharedInflight.delete(key);
    });
    // Callers that all left leave a rejected promise nobody awaits.
    created.promise.catch(() => undefined);
    sharedInflight.set(key, created);
    entry = created;
  }
  const e = entry;
  e.users++;
  if (!signal) return e.promise as Promise<T>;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      e.users--;
      if (e.users === 0) {
        if (sharedInflight.get(key) === e) sharedInflight.delete(key);
        e.controller.abort();
      }
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    e.promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v as T);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
