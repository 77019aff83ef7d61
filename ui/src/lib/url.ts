// View state in the URL (query, time range, variables): a link reproduces the view.

export function params(): URLSearchParams {
  return new URLSearchParams(location.search);
}

export function param(name: string, fallback = ""): string {
  return params().get(name) ?? fallback;
}

/** Merge `values` into the query string; undefined/"" removes a key. */
export function setParams(values: Record<string, string | string[] | undefined>, push = false): void {
  const p = params();
  for (const [k, v] of Object.entries(values)) {
    p.delete(k);
    if (v === undefined || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.set(k, v);
  }
  const qs = p.toString();
  const url = location.pathname + (qs ? `?${qs}` : "") + location.hash;
  if (url === location.pathname + location.search + location.hash) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

type Listener = () => void;
const listeners: Listener[] = [];

export function onNavigate(fn: Listener): void {
  listeners.push(fn);
}

export function navigate(url: string): void {
  history.pushState(null, "", url);
  listeners.forEach((f) => f());
}

window.addEventListener("popstate", () => listeners.forEach((f) => f()));
