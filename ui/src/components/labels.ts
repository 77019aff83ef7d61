// Label sets as chips, optionally clickable (e.g. to add a filter).

import { h } from "../lib/dom";

/** `k="v"` chips sorted by name, without the `skip` labels; buttons when `onClick` is given. */
export function labelChips(labels: Record<string, string>, skip: string[] = [], onClick?: (k: string, v: string) => void): HTMLElement {
  return h(
    "div",
    { class: "chips" },
    ...Object.keys(labels)
      .filter((k) => !skip.includes(k))
      .sort()
      .map((k) => (onClick ? h("button", { class: "chip clickable", title: "filter by this label", onclick: () => onClick(k, labels[k]) }, `${k}="${labels[k]}"`) : h("span", { class: "chip" }, `${k}="${labels[k]}"`))),
  );
}
