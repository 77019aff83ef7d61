// Value formatting by Grafana unit ids (fieldConfig.defaults.unit): the ids are Grafana's
// format; the scaling rules (SI/IEC steps, time units) are written here.

export interface Formatted {
  text: string;
  suffix: string;
}

const SI = ["", " k", " M", " G", " T", " P", " E"];
const SI_SMALL = ["", " m", " µ", " n", " p"];

function toFixed(v: number, decimals?: number | null): string {
  if (!Number.isFinite(v)) return String(v);
  if (decimals !== undefined && decimals !== null) return v.toFixed(Math.max(0, Math.min(20, decimals)));
  const abs = Math.abs(v);
  if (abs === 0) return "0";
  // Up to 3 significant decimals like Grafana's auto decimals, trimming zeros.
  const dec = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 1 - Math.floor(Math.log10(abs)) + 1);
  const s = v.toFixed(dec);
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

function scaled(v: number, base: number, steps: string[], unit: string, decimals?: number | null): string {
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < steps.length - 1) {
    x /= base;
    i++;
  }
  const prefix = steps[i];
  return `${toFixed(x, decimals)}${prefix}${prefix ? unit.trimStart() : unit}`;
}

/** SI scaling for a base unit (`1.2 kB/s`, `3 MHz`); small values get m/µ/n. */
function si(v: number, unit: string, decimals?: number | null, small = false): string {
  if (small && v !== 0 && Math.abs(v) < 1) {
    let i = 0;
    let x = v;
    while (Math.abs(x) < 1 && i < SI_SMALL.length - 1) {
      x *= 1000;
      i++;
    }
    const p = SI_SMALL[i];
    return `${toFixed(x, decimals)}${p}${unit.trimStart()}`;
  }
  return scaled(v, 1000, SI, unit, decimals);
}

const IEC = ["", " Ki", " Mi", " Gi", " Ti", " Pi", " Ei"];

function iec(v: number, unit: string, decimals?: number | null): string {
  return scaled(v, 1024, IEC, unit, decimals);
}

/** Seconds as the largest sensible unit (`850 ms`, `1.5 min`, `2.3 hour`). */
function seconds(v: number, decimals?: number | null): string {
  const a = Math.abs(v);
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${toFixed(v * 1e9, decimals)} ns`;
  if (a < 1e-3) return `${toFixed(v * 1e6, decimals)} µs`;
  if (a < 1) return `${toFixed(v * 1e3, decimals)} ms`;
  if (a < 60) return `${toFixed(v, decimals)} s`;
  if (a < 3600) return `${toFixed(v / 60, decimals)} min`;
  if (a < 86400) return `${toFixed(v / 3600, decimals)} hour`;
  if (a < 604800) return `${toFixed(v / 86400, decimals)} day`;
  if (a < 31536000) return `${toFixed(v / 604800, decimals)} week`;
  return `${toFixed(v / 31536000, decimals)} year`;
}

/** Seconds as `1d 2h 3m 4s` (Grafana's dtdurations). */
function dtDuration(v: number): string {
  let s = Math.floor(Math.abs(v));
  if (s === 0) return v === 0 ? "0s" : `${toFixed(v * 1000)} ms`;
  const parts: string[] = [];
  for (const [n, u] of [
    [31536000, "y"],
    [86400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${u}`);
      s %= n;
    }
    if (parts.length === 3) break;
  }
  return (v < 0 ? "-" : "") + parts.join(" ");
}

function short(v: number, decimals?: number | null): string {
  const a = Math.abs(v);
  if (a < 1000) return toFixed(v, decimals);
  const names = ["", " K", " Mil", " Bil", " Tri", " Quadr"];
  return scaled(v, 1000, names, "", decimals);
}

/** Format `v` by a Grafana unit id; unknown units print the number and the unit as a suffix. */
export function formatValue(v: number | null | undefined, unit?: string | null, decimals?: number | null): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  const u = (unit ?? "").trim();
  switch (u) {
    case "":
    case "none":
      return toFixed(v, decimals);
    case "short":
      return short(v, decimals);
    case "percent":
      return `${toFixed(v, decimals)}%`;
    case "percentunit":
      return `${toFixed(v * 100, decimals)}%`;
    case "bytes":
      return iec(v, " B", decimals);
    case "decbytes":
      return si(v, " B", decimals);
    case "bits":
      return iec(v, " b", decimals);
    case "decbits":
      return si(v, " b", decimals);
    case "kbytes":
      return iec(v * 1024, " B", decimals);
    case "mbytes":
      return iec(v * 1024 * 1024, " B", decimals);
    case "gbytes":
      return iec(v * 1024 ** 3, " B", decimals);
    case "binBps":
      return iec(v, " B/s", decimals);
    case "Bps":
      return si(v, " B/s", decimals);
    case "binbps":
      return iec(v, " b/s", decimals);
    case "bps":
      return si(v, " b/s", decimals);
    case "KBs":
      return si(v * 1000, " B/s", decimals);
    case "s":
      return seconds(v, decimals);
    case "ms":
      return seconds(v / 1000, decimals);
    case "µs":
    case "us":
      return seconds(v / 1e6, decimals);
    case "ns":
      return seconds(v / 1e9, decimals);
    case "m":
      return seconds(v * 60, decimals);
    case "h":
      return seconds(v * 3600, decimals);
    case "d":
      return seconds(v * 86400, decimals);
    case "dtdurations":
    case "dtdurationms":
      return dtDuration(u === "dtdurationms" ? v / 1000 : v);
    case "hertz":
      return si(v, " Hz", decimals);
    case "ops":
      return si(v, " ops/s", decimals);
    case "reqps":
      return si(v, " req/s", decimals);
    case "rps":
      return si(v, " rd/s", decimals);
    case "wps":
      return si(v, " wr/s", decimals);
    case "iops":
      return si(v, " io/s", decimals);
    case "pps":
      return si(v, " p/s", decimals);
    case "cps":
      return si(v, " c/s", decimals);
    case "eps":
      return si(v, " evt/s", decimals);
    case "opm":
      return si(v, " ops/min", decimals);
    case "rpm":
    case "reqpm":
      return si(v, " req/min", decimals);
    case "rotrpm":
      return si(v, " rpm", decimals);
    case "celsius":
      return `${toFixed(v, decimals)}°C`;
    case "fahrenheit":
      return `${toFixed(v, decimals)}°F`;
    case "volt":
      return si(v, " V", decimals, true);
    case "amp":
      return si(v, " A", decimals, true);
    case "watt":
      return si(v, " W", decimals, true);
    case "bool":
      return v === 0 ? "False" : "True";
    case "bool_yes_no":
      return v === 0 ? "No" : "Yes";
    case "bool_on_off":
      return v === 0 ? "Off" : "On";
    case "dateTimeAsIso":
    case "dateTimeAsSystem":
      return new Date(v).toISOString();
    case "sci":
      return v.toExponential(decimals ?? 2);
    case "locale":
      return v.toLocaleString();
    default:
      break;
  }
  if (u.startsWith("suffix:")) return `${toFixed(v, decimals)}${u.slice(7)}`;
  if (u.startsWith("prefix:")) return `${u.slice(7)}${toFixed(v, decimals)}`;
  if (u.startsWith("currency")) return `${u.replace(/^currency/, "")} ${short(v, decimals)}`;
  // Custom units such as `read/s`, `io/s`: a number with the unit after it.
  return `${short(v, decimals)} ${u}`;
}

export interface Threshold {
  value: number | null; // null = base
  color: string;
}

export interface Thresholds {
  mode?: "absolute" | "percentage";
  steps: Threshold[];
}

const NAMED: Record<string, string> = {
  green: "#56a64b",
  "dark-green": "#37872d",
  "semi-dark-green": "#37872d",
  "light-green": "#73bf69",
  red: "#e02f44",
  "dark-red": "#c4162a",
  "semi-dark-red": "#c4162a",
  "light-red": "#f2495c",
  yellow: "#f2cc0c",
  "dark-yellow": "#e0b400",
  "light-yellow": "#fade2a",
  orange: "#ff780a",
  "dark-orange": "#fa6400",
  "light-orange": "#ff9830",
  blue: "#3274d9",
  "dark-blue": "#1f60c4",
  "light-blue": "#5794f2",
  purple: "#a352cc",
  "dark-purple": "#8f3bb8",
  "light-purple": "#ca95e5",
  text: "var(--fg)",
  transparent: "transparent",
};

/** A Grafana colour (named like `dark-red`, hex, rgb()) as CSS. */
export function cssColor(c: string | undefined | null): string {
  if (!c) return NAMED.green;
  return NAMED[c] ?? c;
}

/** The colour of `v` under `thresholds` (the highest step whose value is <= v). */
export function thresholdColor(v: number | null, th: Thresholds | undefined, min = 0, max = 100): string {
  const steps = th?.steps?.length ? th.steps : [{ value: null, color: "green" }];
  if (v === null || Number.isNaN(v)) return cssColor(steps[0].color);
  const x = th?.mode === "percentage" ? ((v - min) / (max - min || 1)) * 100 : v;
  let color = steps[0].color;
  for (const s of steps) {
    if (s.value === null || s.value === undefined || x >= s.value) color = s.color;
  }
  return cssColor(color);
}

/** uPlot axis/tooltip formatter for a unit. */
export function axisFormatter(unit?: string | null, decimals?: number | null): (v: number) => string {
  return (v: number) => formatValue(v, unit, decimals);
}
