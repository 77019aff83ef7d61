// PromQL editing help: where the cursor is (metric, label name, label value, duration) and the
// function list for completion.

export const FUNCTIONS: Array<[string, string]> = [
  ["abs", "(v instant-vector)"], ["absent", "(v instant-vector)"], ["absent_over_time", "(v range-vector)"],
  ["acos", "(v)"], ["asin", "(v)"], ["atan", "(v)"], ["avg_over_time", "(v range-vector)"],
  ["ceil", "(v instant-vector)"], ["changes", "(v range-vector)"], ["clamp", "(v, min, max)"],
  ["clamp_max", "(v, max)"], ["clamp_min", "(v, min)"], ["cos", "(v)"], ["count_over_time", "(v range-vector)"],
  ["day_of_month", "(v=vector(time()))"], ["day_of_week", "(v=vector(time()))"], ["day_of_year", "(v)"],
  ["days_in_month", "(v)"], ["deg", "(v)"], ["delta", "(v range-vector)"], ["deriv", "(v range-vector)"],
  ["exp", "(v)"], ["floor", "(v)"], ["histogram_avg", "(v)"], ["histogram_count", "(v)"],
  ["histogram_fraction", "(lower, upper, v)"], ["histogram_quantile", "(φ scalar, b instant-vector)"],
  ["histogram_stddev", "(v)"], ["histogram_stdvar", "(v)"], ["histogram_sum", "(v)"],
  ["holt_winters", "(v range-vector, sf, tf)"], ["hour", "(v=vector(time()))"], ["idelta", "(v range-vector)"],
  ["increase", "(v range-vector)"], ["irate", "(v range-vector)"], ["label_join", "(v, dst, separator, src...)"],
  ["label_replace", "(v, dst, replacement, src, regex)"], ["last_over_time", "(v range-vector)"], ["ln", "(v)"],
  ["log10", "(v)"], ["log2", "(v)"], ["mad_over_time", "(v range-vector)"], ["max_over_time", "(v range-vector)"],
  ["min_over_time", "(v range-vector)"], ["minute", "(v)"], ["month", "(v)"], ["predict_linear", "(v range-vector, t scalar)"],
  ["present_over_time", "(v range-vector)"], ["quantile_over_time", "(s scalar, v range-vector)"], ["rad", "(v)"],
  ["rate", "(v range-vector)"], ["resets", "(v range-vector)"], ["round", "(v, to_nearest=1)"], ["scalar", "(v)"],
  ["sgn", "(v)"], ["sin", "(v)"], ["sort", "(v)"], ["sort_by_label", "(v, label...)"], ["sort_by_label_desc", "(v, label...)"],
  ["sort_desc", "(v)"], ["sqrt", "(v)"], ["stddev_over_time", "(v range-vector)"], ["stdvar_over_time", "(v range-vector)"],
  ["sum_over_time", "(v range-vector)"], ["tan", "(v)"], ["time", "()"], ["timestamp", "(v)"], ["vector", "(s scalar)"],
  ["year", "(v)"],
  ["sum", " by (labels) (v)"], ["avg", " by (labels) (v)"], ["min", " by (labels) (v)"], ["max", " by (labels) (v)"],
  ["count", " by (labels) (v)"], ["group", " by (labels) (v)"], ["stddev", " (v)"], ["stdvar", " (v)"],
  ["topk", "(k, v)"], ["bottomk", "(k, v)"], ["quantile", "(φ, v)"], ["count_values", "(label, v)"],
  ["limitk", "(k, v)"], ["limit_ratio", "(r, v)"],
];

export const KEYWORDS = ["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "atan2"];

export type Context =
  | { kind: "metric"; prefix: string; from: number }
  | { kind: "label"; prefix: string; from: number; metric?: string }
  | { kind: "value"; prefix: string; from: number; label: string; metric?: string; quote: string }
  | { kind: "duration"; prefix: string; from: number }
  | { kind: "none" };

/** What can be completed at `cursor` in `text`. */
export function completionContext(text: string, cursor: number): Context {
  const before = text.slice(0, cursor);
  // Scan to find open braces/brackets/strings at the cursor.
  let braceStart = -1;
  let bracket = -1;
  let quote = "";
  let quoteStart = -1;
  let parenStack: number[] = [];
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      quote = c;
      quoteStart = i;
    } else if (c === "{") braceStart = i;
    else if (c === "}") braceStart = -1;
    else if (c === "[") bracket = i;
    else if (c === "]") bracket = -1;
    else if (c === "(") parenStack.push(i);
    else if (c === ")") parenStack = parenStack.slice(0, -1);
  }
  const metricBefore = (pos: number) => {
    const m = /([a-zA-Z_:][\w:]*)\s*$/.exec(text.slice(0, pos));
    return m ? m[1] : undefined;
  };
  if (quote && braceStart >= 0) {
    const m = /([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(0, quoteStart));
    if (m) {
      return { kind: "value", prefix: before.slice(quoteStart + 1), from: quoteStart + 1, label: m[1], metric: metricBefore(braceStart), quote };
    }
    return { kind: "none" };
  }
  if (quote) return { kind: "none" };
  const word = /[a-zA-Z_:][\w:]*$/.exec(before);
  const prefix = word ? word[0] : "";
  const from = cursor - prefix.length;
  if (bracket >= 0) return { kind: "duration", prefix: before.slice(bracket + 1), from: bracket + 1 };
  if (braceStart >= 0) {
    const inner = before.slice(braceStart + 1);
    if (/(^|,)\s*[\w]*$/.test(inner)) return { kind: "label", prefix, from, metric: metricBefore(braceStart) };
    return { kind: "none" };
  }
  if (parenStack.length > 0) {
    const open = parenStack[parenStack.length - 1];
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*$/.test(before.slice(0, open))) {
      return { kind: "label", prefix, from };
    }
  }
  if (/\d$/.test(before) && !word) return { kind: "none" };
  return { kind: "metric", prefix, from };
}

/** Rank candidates: prefix matches first, then substring matches (case-insensitive). */
export function rank(candidates: string[], prefix: string, limit = 50): string[] {
  if (!prefix) return candidates.slice(0, limit);
  const p = prefix.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const c of candidates) {
    const l = c.toLowerCase();
    if (l.startsWith(p)) starts.push(c);
    else if (l.includes(p)) contains.push(c);
    if (starts.length >= limit) break;
  }
  return [...starts, ...contains].slice(0, limit);
}

/** "1:5: parse error: ..." -> {line: 1, col: 5}. Prometheus' position format (also after its
 * `invalid parameter "query": ` prefix), and
 * Loki's "parse error at line 1, col 5: ...". */
export function errorPosition(message: string): { line: number; col: number } | null {
  const m = /(?:^|: )(\d+):(\d+)(?::\d+)?: /.exec(message) ?? /at line (\d+), col (\d+)/.exec(message) ?? /at char (\d+)/.exec(message);
  if (!m) return null;
  if (m.length === 2) return { line: 1, col: parseInt(m[1], 10) };
  return { line: parseInt(m[1], 10), col: parseInt(m[2], 10) };
}
