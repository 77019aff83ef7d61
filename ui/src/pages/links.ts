// Metrics <-> logs: the same labels and time range in the other view.

import type { TimeRange } from "../lib/time";

const LOG_KEYS = [["namespace", "pod", "container"], ["job", "instance"]];

/** A link to the logs of a series that carries pod or job labels; null otherwise. */
export function logsLinkFor(labels: Record<string, string>, range: TimeRange): { label: string; href: string } | null {
  for (const keys of LOG_KEYS) {
    const present = keys.filter((k) => labels[k]);
    if (present.length >= 1 && (keys[0] !== "namespace" || labels.pod)) {
      const sel = present.map((k) => `${k}="${labels[k].replace(/"/g, '\\"')}"`).join(", ");
      const p = new URLSearchParams({ q: `{${sel}}`, from: range.from, to: range.to });
      return { label: "logs", href: `/logs?${p}` };
    }
  }
  return null;
}

/** A link from a log stream to its pod's (or job's) metrics in Explore. */
export function metricsLinkFor(labels: Record<string, string>, range: TimeRange): { label: string; href: string } | null {
  let q = "";
  if (labels.pod && labels.namespace) q = `{namespace="${labels.namespace}", pod="${labels.pod}"}`;
  else if (labels.job) q = labels.instance ? `{job="${labels.job}", instance="${labels.instance}"}` : `{job="${labels.job}"}`;
  if (!q) return null;
  const p = new URLSearchParams({ q, from: range.from, to: range.to, tab: "table" });
  return { label: "metrics", href: `/explore?${p}` };
}
