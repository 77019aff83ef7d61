// Prometheus matrix results -> one grid of timestamps with a column of values per series, the
// shape uPlot draws. Hot on dashboards (50 series x 1,000 points per panel), so: direct grid
// indexing instead of a lookup per point, and the parsed column of a result series is kept for
// other panels sharing the same (deduplicated) response.

export interface ChartSeries {
  name: string;
  labels: Record<string, string>;
  values: Array<number | null>; // aligned to xs
  dash?: number[]; // line dash pattern in CSS pixels
}

export interface ChartData {
  xs: number[]; // seconds
  series: ChartSeries[];
}

export interface MatrixLike {
  metric: Record<string, string>;
  values?: Array<[number, string]>;
}

// Per result series (object identity) and grid: its parsed column. Callers get a copy.
const columns = new WeakMap<object, { grid: string; values: Array<number | null> }>();

/** The grid from startS to endS (inclusive) every stepS seconds, in seconds rounded to ms. */
export function gridOf(startS: number, endS: number, stepS: number): number[] {
  const xs: number[] = [];
  for (let t = startS; t <= endS + 1e-9; t += stepS) xs.push(Math.round(t * 1000) / 1000);
  return xs;
}

/** Align Prometheus matrix results onto one grid of timestamps: the given one, or the union of
 * the samples' timestamps. Points off the grid are dropped; NaN and infinities become gaps. */
export function alignMatrix(
  result: MatrixLike[],
  names: (labels: Record<string, string>) => string,
  startS?: number,
  endS?: number,
  stepS?: number,
): ChartData {
  const regular = startS !== undefined && endS !== undefined && !!stepS;
  let xs: number[];
  if (regular) {
    xs = gridOf(startS, endS, stepS);
  } else {
    const set = new Set<number>();
    for (const s of result) for (const [t] of s.values ?? []) set.add(t);
    xs = [...set].sort((a, b) => a - b);
  }
  const n = xs.length;
  const x0 = n ? Math.round(xs[0] * 1000) : 0;
  const stepMs = regular ? stepS * 1000 : 0;
  let index: Map<number, number> | null = null;
  const slot = (ms: number): number | undefined => {
    if (stepMs > 0) {
      const i = Math.round((ms - x0) / stepMs);
      if (i >= 0 && i < n && Math.round(xs[i] * 1000) === ms) return i;
    }
    if (!index) {
      index = new Map();
      for (let i = 0; i < n; i++) index.set(Math.round(xs[i] * 1000), i);
    }
    return index.get(ms);
  };
  const grid = regular ? `${startS}|${endS}|${stepS}` : "";
  const series = result.map((s) => {
    const cached = grid ? columns.get(s) : undefined;
    if (cached && cached.grid === grid) return { name: names(s.metric), labels: s.metric, values: cached.values.slice() };
    const values: Array<number | null> = new Array<number | null>(n).fill(null);
    for (const [t, v] of s.values ?? []) {
      const i = slot(Math.round(t * 1000));
      if (i !== undefined) {
        const x = parseFloat(v);
        values[i] = Number.isFinite(x) ? x : null;
      }
    }
    if (grid) columns.set(s, { grid, values: values.slice() });
    return { name: names(s.metric), labels: s.metric, values };
  });
  return { xs, series };
}
