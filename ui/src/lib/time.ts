// Time ranges as Grafana writes them in URLs: `now-1h`, `now`, `now-1d/d`, epoch milliseconds,
// or ISO dates. Durations as Prometheus writes them: `1h30m`, `15s`, `500ms`.

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** Milliseconds of a Prometheus duration (`1h30m`, `90s`, `250ms`); null when invalid. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += parseFloat(m[1]) * UNIT_MS[m[2]];
    pos = re.lastIndex;
  }
  return Math.round(total);
}

/** A duration in Prometheus' shortest form: 90000 -> `1m30s`, 1500 -> `1s500ms`. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const u of ["y", "w", "d", "h", "m", "s", "ms"]) {
    const size = UNIT_MS[u];
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out || "0s";
}

/** Grafana's interval string for `$__interval`: seconds/minutes/hours, whole numbers. */
export function formatInterval(ms: number): string {
  if (ms < 1000) return `${Math.max(1, Math.round(ms))}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600 && s % 60 === 0) return `${s / 60}m`;
  if (s < 3600) return `${Math.round(s)}s`;
  if (s % 3600 === 0 && s < 86400) return `${s / 3600}h`;
  if (s % 86400 === 0) return `${s / 86400}d`;
  return `${Math.round(s)}s`;
}

function startOf(date: Date, unit: string, end: boolean): Date {
  const d = new Date(date.getTime());
  switch (unit) {
    case "y":
      d.setMonth(0, 1);
      d.setHours(0, 0, 0, 0);
      if (end) d.setFullYear(d.getFullYear() + 1);
      break;
    case "M":
      d.setDate(1);
      d.setHours(0, 0, 0, 0);
      if (end) d.setMonth(d.getMonth() + 1);
      break;
    case "w": {
      d.setHours(0, 0, 0, 0);
      d.setDate(d.getDate() - d.getDay());
      if (end) d.setDate(d.getDate() + 7);
      break;
    }
    case "d":
      d.setHours(0, 0, 0, 0);
      if (end) d.setDate(d.getDate() + 1);
      break;
    case "h":
      d.setMinutes(0, 0, 0);
      if (end) d.setHours(d.getHours() + 1);
      break;
    case "m":
      d.setSeconds(0, 0);
      if (end) d.setMinutes(d.getMinutes() + 1);
      break;
    case "s":
      d.setMilliseconds(0);
      if (end) d.setSeconds(d.getSeconds() + 1);
      break;
    default:
      return d;
  }
  return end ? new Date(d.getTime() - 1) : d;
}

/**
 * Resolve one end of a range to epoch milliseconds. `roundUp` is for the `to` side of a
 * rounded expression (`now/d` as `to` means the end of today). Returns null when invalid.
 */
export function parseTime(text: string, now: number, roundUp = false): number | null {
  const s = text.trim();
  if (!s) return null;
  if (/^\d{10,}$/.test(s)) {
    const n = parseInt(s, 10);
    return s.length <= 10 ? n * 1000 : n; // seconds or milliseconds
  }
  if (s.startsWith("now")) {
    let rest = s.slice(3);
    let t = now;
    const re = /^([+-])(\d+)(ms|s|m|h|d|w|M|y)/;
    for (;;) {
      const m = re.exec(rest);
      if (!m) break;
      const n = parseInt(m[2], 10) * (m[1] === "-" ? -1 : 1);
      const unit = m[3];
      if (unit === "M") {
        const d = new Date(t);
        d.setMonth(d.getMonth() + n);
        t = d.getTime();
      } else if (unit === "y") {
        const d = new Date(t);
        d.setFullYear(d.getFullYear() + n);
        t = d.getTime();
      } else {
        t += n * UNIT_MS[unit];
      }
      rest = rest.slice(m[0].length);
    }
    const round = /^\/(y|M|w|d|h|m|s)$/.exec(rest);
    if (round) return startOf(new Date(t), round[1], roundUp).getTime();
    return rest === "" ? t : null;
  }
  const iso = Date.parse(s.includes("T") || s.includes(" ") ? s.replace(" ", "T") : s);
  return Number.isNaN(iso) ? null : iso;
}

export interface TimeRange {
  from: string;
  to: string;
}

export interface ResolvedRange {
  start: number; // epoch ms
  end: number; // epoch ms
}

export function resolveRange(range: TimeRange, now: number = Date.now()): ResolvedRange {
  const start = parseTime(range.from, now, false);
  const end = parseTime(range.to, now, true);
  if (start === null || end === null || start >= end) {
    return { start: now - 3_600_000, end: now };
  }
  return { start, end };
}

export function isRelative(range: TimeRange): boolean {
  return range.from.startsWith("now") || range.to.startsWith("now");
}

/** Query step in ms for a range drawn `width` pixels wide; at least `minStep` (ms). */
export function autoStep(range: ResolvedRange, width = 1000, minStep = 1000): number {
  const raw = (range.end - range.start) / Math.max(100, width);
  const nice = [
    1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
  ];
  const step = nice.find((n) => n >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
  return Math.max(step, minStep);
}

export const QUICK_RANGES: Array<{ from: string; to: string; label: string }> = [
  { from: "now-5m", to: "now", label: "Last 5 minutes" },
  { from: "now-15m", to: "now", label: "Last 15 minutes" },
  { from: "now-30m", to: "now", label: "Last 30 minutes" },
  { from: "now-1h", to: "now", label: "Last 1 hour" },
  { from: "now-3h", to: "now", label: "Last 3 hours" },
  { from: "now-6h", to: "now", label: "Last 6 hours" },
  { from: "now-12h", to: "now", label: "Last 12 hours" },
  { from: "now-24h", to: "now", label: "Last 24 hours" },
  { from: "now-2d", to: "now", label: "Last 2 days" },
  { from: "now-7d", to: "now", label: "Last 7 days" },
  { from: "now-30d", to: "now", label: "Last 30 days" },
  { from: "now/d", to: "now/d", label: "Today" },
  { from: "now-1d/d", to: "now-1d/d", label: "Yesterday" },
];

/** Human label of a range: the quick range's name, or `from to to`. */
export function describeRange(range: TimeRange): string {
  const q = QUICK_RANGES.find((r) => r.from === range.from && r.to === range.to);
  if (q) return q.label;
  const m = /^now-(\d+)(m|h|d|w|s)$/.exec(range.from);
  if (m && range.to === "now") {
    const names: Record<string, string> = { s: "second", m: "minute", h: "hour", d: "day", w: "week" };
    const n = parseInt(m[1], 10);
    return `Last ${n} ${names[m[2]]}${n === 1 ? "" : "s"}`;
  }
  const fmt = (t: string) => {
    const ms = parseTime(t, Date.now());
    return t.startsWith("now") || ms === null ? t : formatDate(ms);
  };
  return `${fmt(range.from)} to ${fmt(range.to)}`;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** Local time as `YYYY-MM-DD HH:MM:SS`. */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Zoom out: double the span around its centre (Grafana's Ctrl+Z). */
export function zoomOut(range: ResolvedRange, factor = 2, now = Date.now()): ResolvedRange {
  const span = range.end - range.start;
  const centre = range.start + span / 2;
  let end = centre + (span * factor) / 2;
  let start = centre - (span * factor) / 2;
  if (end > now) {
    start -= end - now;
    end = now;
  }
  return { start: Math.round(start), end: Math.round(end) };
}

/** How long ago an RFC 3339 time was (`5m ago`, `in 1h`); `never` for none or the zero time. */
export function ago(iso: string | undefined): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t) || t <= 0) return "never";
  const s = (Date.now() - t) / 1000;
  if (s < 0) return `in ${formatDuration(Math.round(-s / 60) * 60_000 || 1000)}`;
  return s < 1 ? "just now" : `${formatDuration(Math.round(s) * 1000)} ago`;
}
