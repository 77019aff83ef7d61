// The shell: navigation, theme, client-side routing. Pages render into #content and return a
// cleanup function that runs when the route changes.

import "./styles.css";
import { h, replace } from "./lib/dom";
import { navigate, onNavigate } from "./lib/url";
import { explorePage } from "./pages/explore";
import { statusPage, targetsPage } from "./pages/status";
import { dashboardsPage, dashboardPage } from "./pages/dashboards";
import { logsPage } from "./pages/logs";
import { alertsPage, rulesPage, silencesPage } from "./pages/alerting";
import { monitorPage, monitorsPage } from "./pages/monitors";

type Page = (root: HTMLElement, match: RegExpExecArray) => (() => void) | void;

const ROUTES: Array<[RegExp, Page, string]> = [
  [/^\/explore\/?$/, explorePage, "explore"],
  [/^\/logs\/?$/, logsPage, "logs"],
  [/^\/dashboards\/?$/, dashboardsPage, "dashboards"],
  [/^\/d\/([^/]+)(?:\/.*)?$/, dashboardPage, "dashboards"],
  [/^\/alerts\/?$/, alertsPage, "alerts"],
  [/^\/silences\/?$/, silencesPage, "silences"],
  [/^\/rules\/?$/, rulesPage, "rules"],
  [/^\/monitors\/?$/, monitorsPage, "monitors"],
  [/^\/monitors\/([^/]+)\/?$/, monitorPage, "monitors"],
  [/^\/targets\/?$/, targetsPage, "targets"],
  [/^\/service-discovery\/?$/, targetsPage, "targets"],
  [/^\/(status|tsdb-status)\/?$/, statusPage, "status"],
];

const NAV: Array<[string, string, string]> = [
  ["explore", "/explore", "Explore"],
  ["logs", "/logs", "Logs"],
  ["dashboards", "/dashboards", "Dashboards"],
  ["alerts", "/alerts", "Alerts"],
  ["silences", "/silences", "Silences"],
  ["rules", "/rules", "Rules"],
  ["monitors", "/monitors", "Monitors"],
  ["targets", "/targets", "Targets"],
  ["status", "/status", "Status"],
];

function setTheme(t: string): void {
  document.documentElement.dataset.theme = t;
  localStorage.setItem("pharos.theme", t);
}

const content = h("main", { id: "content" });
const navLinks = NAV.map(([key, href, label]) => h("a", { href, "data-nav": key, class: "nav-link" }, label));
const themeBtn = h("button", {
  class: "btn theme-toggle",
  title: "light / dark",
  "data-testid": "theme-toggle",
  onclick: () => {
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
    route(); // charts read colours from CSS variables when drawn
  },
}, "◐");
const app = document.getElementById("app")!;
replace(
  app,
  h("nav", { class: "sidebar" }, h("a", { href: "/explore", class: "brand" }, h("img", { src: "/favicon.svg", alt: "" }), "pharos"), ...navLinks, h("div", { class: "spacer" }), themeBtn),
  content,
);

// Links inside the app navigate without a reload.
document.addEventListener("click", (e) => {
  const a = (e.target as Element).closest?.("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || a.target) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  if (!ROUTES.some(([re]) => re.test(url.pathname)) && url.pathname !== "/") return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

let cleanup: (() => void) | void;
let currentPath = "";

function route(): void {
  if (location.pathname === "/") {
    history.replaceState(null, "", "/explore" + location.search);
  }
  const path = location.pathname;
  cleanup?.();
  cleanup = undefined;
  currentPath = path;
  replace(content);
  const page = h("div", { class: "page" });
  content.append(page);
  for (const [re, fn, key] of ROUTES) {
    const m = re.exec(path);
    if (m) {
      navLinks.forEach((l) => l.classList.toggle("active", l.dataset.nav === key));
      page.dataset.page = key;
      try {
        cleanup = fn(page, m);
      } catch (err) {
        page.append(h("div", { class: "error-box" }, `This page failed: ${(err as Error).message}`));
      }
      return;
    }
  }
  page.append(h("div", { class: "empty" }, `No page at ${path}.`));
}

onNavigate(() => {
  if (location.pathname !== currentPath || true) route();
});
route();
