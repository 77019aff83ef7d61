// A small DOM builder: h("div", {class: "x", onclick: fn}, child, "text").

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
      } else if (k === "style" && typeof v === "object") {
        Object.assign(el.style, v);
      } else if (k === "value" && "value" in el) {
        (el as HTMLInputElement).value = String(v);
      } else if (k === "checked" && "checked" in el) {
        (el as HTMLInputElement).checked = Boolean(v);
      } else if (k === "dataset" && typeof v === "object") {
        Object.assign(el.dataset, v);
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    if (t) clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** Run a page's loader: `data-state` done or error on `root` (browser tests wait for it), the
 * error's message in `err` (cleared on success). */
export async function loadInto(root: HTMLElement, err: HTMLElement, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    err.textContent = "";
    root.dataset.state = "done";
  } catch (e) {
    err.textContent = (e as Error).message;
    root.dataset.state = "error";
  }
}

/** A button that asks once more (`Confirm <label>`) before it runs `action`. */
export function confirmButton(label: string, attrs: Attrs, action: () => void): HTMLButtonElement {
  let confirming = false;
  const btn = h("button", attrs, label);
  btn.addEventListener("click", () => {
    if (confirming) return action();
    confirming = true;
    btn.textContent = `Confirm ${label.toLowerCase()}`;
  });
  return btn;
}
