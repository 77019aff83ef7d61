import { h } from "../lib/dom";

export function logsPage(root: HTMLElement): void {
  root.append(h("div", { class: "page-head" }, h("h1", null, "Explore logs")));
}
