import { h } from "../lib/dom";

function pending(name: string) {
  return (root: HTMLElement) => {
    root.append(h("div", { class: "page-head" }, h("h1", null, name)), h("div", { class: "empty" }, "Loading…"));
  };
}
export const alertsPage = pending("Alerts");
export const silencesPage = pending("Silences");
export const rulesPage = pending("Rules");
