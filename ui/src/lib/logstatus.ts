// Log-store status: counts and top lists from the streams Loki's /series returns.

export interface LogStoreSummary {
  streams: number;
  labelPairs: number;
  valuesPerLabel: Array<{ name: string; value: number }>;
  streamsPerPair: Array<{ name: string; value: number }>;
}

/** Distinct streams (the input may repeat a stream), label pairs and top-10 lists. */
export function logStoreSummary(series: Array<Record<string, string>>, top = 10): LogStoreSummary {
  const seen = new Set<string>();
  const values = new Map<string, Set<string>>();
  const pairs = new Map<string, number>();
  for (const s of series) {
    const key = JSON.stringify(Object.keys(s).sort().map((k) => [k, s[k]]));
    if (seen.has(key)) continue;
    seen.add(key);
    for (const [k, v] of Object.entries(s)) {
      if (!values.has(k)) values.set(k, new Set());
      values.get(k)!.add(v);
      const p = `${k}=${v}`;
      pairs.set(p, (pairs.get(p) ?? 0) + 1);
    }
  }
  const sorted = (m: Array<[string, number]>) =>
    m.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, top).map(([name, value]) => ({ name, value }));
  return {
    streams: seen.size,
    labelPairs: pairs.size,
    valuesPerLabel: sorted([...values.entries()].map(([k, v]) => [k, v.size])),
    streamsPerPair: sorted([...pairs.entries()]),
  };
}
