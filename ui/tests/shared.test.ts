import { describe, expect, it } from "vitest";
import { shared } from "../src/lib/api";

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("shared", () => {
  it("runs one request for concurrent callers with the same key", async () => {
    let runs = 0;
    const d = deferred<number>();
    const run = () => {
      runs++;
      return d.promise;
    };
    const a = shared("k1", run);
    const b = shared("k1", run, new AbortController().signal);
    const c = shared("k2", () => Promise.resolve(7));
    d.resolve(42);
    expect(await Promise.all([a, b, c])).toEqual([42, 42, 7]);
    expect(runs).toBe(1);
    // Settled: the next caller runs again.
    await shared("k1", run);
    expect(runs).toBe(2);
  });

  it("one caller aborting leaves the others; the request aborts when all have gone", async () => {
    let inner: AbortSignal | null = null;
    const d = deferred<string>();
    const run = (signal: AbortSignal) => {
      inner = signal;
      return d.promise;
    };
    const ca = new AbortController();
    const cb = new AbortController();
    const a = shared("k3", run, ca.signal);
    const b = shared("k3", run, cb.signal);
    ca.abort();
    await expect(a).rejects.toMatchObject({ name: "AbortError" });
    expect(inner!.aborted).toBe(false);
    cb.abort();
    await expect(b).rejects.toMatchObject({ name: "AbortError" });
    expect(inner!.aborted).toBe(true);
    // A new caller after everyone left starts a fresh request.
    let again = 0;
    await shared("k3", () => Promise.resolve(++again));
    expect(again).toBe(1);
  });

  it("passes errors to every caller", async () => {
    const run = () => Promise.reject(new Error("boom"));
    await expect(Promise.all([shared("k4", run), shared("k4", run)])).rejects.toThrow("boom");
  });
});
