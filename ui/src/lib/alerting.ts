// Alertmanager API v2 helpers: matchers <-> text, filter query parameters, silence state.

import { quote } from "./logql";

export interface AmMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  matchers: AmMatcher[];
  startsAt: string;
  endsAt: string;
  updatedAt?: string;
  createdBy: string;
  comment: string;
  status?: { state: string };
}

/** `name="value"`, `name=~"re"`, `name!="v"`, `name!~"re"`. */
export function matcherText(m: AmMatcher): string {
  const eq = m.isEqual ?? true;
  const op = eq ? (m.isRegex ? "=~" : "=") : m.isRegex ? "!~" : "!=";
  return `${m.name}${op}${quote(m.value)}`;
}

const MATCHER_RE = /([A-Za-z_][\w]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,}\s"]*))/g;

/** Matchers from Alertmanager's filter syntax: `{a="b", c=~"d.*"}` (braces and quotes optional). */
export function matchersFromFilter(text: string): AmMatcher[] {
  const out: AmMatcher[] = [];
  for (const m of (text ?? "").matchAll(MATCHER_RE)) {
    const op = m[2];
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, (_x, c: string) => (c === "n" ? "\n" : c)) : m[4];
    out.push({ name: m[1], value, isRegex: op.includes("~"), isEqual: !op.startsWith("!") });
  }
  return out;
}

/** `filter=` query parameters of /api/v2/alerts(/groups). */
export function filterParams(ms: AmMatcher[]): URLSearchParams {
  const p = new URLSearchParams();
  for (const m of ms) p.append("filter", matcherText(m));
  return p;
}

/** The filter that matches exactly this alert's labels (the prefill of "Silence" on an alert). */
export function silenceFilter(labels: Record<string, string>): string {
  return `{${Object.keys(labels)
    .sort((a, b) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a < b ? -1 : 1))
    .map((k) => `${k}=${quote(labels[k])}`)
    .join(", ")}}`;
}

/** active, pending or expired: the API's state, else from the times. */
export function silenceState(s: Pick<Silence, "startsAt" | "endsAt" | "status">, now = Date.now()): string {
  if (s.status?.state) return s.status.state;
  const start = Date.parse(s.startsAt);
  const end = Date.parse(s.endsAt);
  if (end <= now) return "expired";
  if (start > now) return "pending";
  return "active";
}
