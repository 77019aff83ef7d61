// Query editor: a textarea with completion (metric names, label names and values, functions),
// Shift+Enter to run, and errors drawn at their position.

import { h, replace } from "../lib/dom";
import { errorPosition } from "../lib/promql";

export interface Suggestion {
  text: string; // inserted
  label?: string; // shown
  detail?: string;
  kind: string;
}

export interface EditorOptions {
  value: string;
  placeholder?: string;
  onRun: (value: string) => void;
  onChange?: (value: string) => void;
  complete: (text: string, cursor: number) => Promise<{ from: number; items: Suggestion[] } | null>;
  testId?: string;
}

export class QueryEditor {
  readonly el: HTMLElement;
  readonly input: HTMLTextAreaElement;
  private list: HTMLElement;
  private errorEl: HTMLElement;
  private items: Suggestion[] = [];
  private from = 0;
  private active = 0;
  private seq = 0;

  constructor(private opts: EditorOptions) {
    this.input = h("textarea", {
      class: "query-input",
      rows: 1,
      spellcheck: "false",
      autocomplete: "off",
      placeholder: opts.placeholder ?? "",
      "data-testid": opts.testId ?? "query-input",
    });
    this.input.value = opts.value;
    this.list = h("ul", { class: "completions", style: { display: "none" }, "data-testid": "completions" });
    this.errorEl = h("div", { class: "query-error", style: { display: "none" }, "data-testid": "query-error" });
    this.el = h("div", { class: "editor" }, h("div", { class: "editor-box" }, this.input, this.list), this.errorEl);
    this.input.addEventListener("input", () => {
      this.autosize();
      opts.onChange?.(this.input.value);
      void this.suggest();
    });
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("blur", () => setTimeout(() => this.hide(), 150));
    this.input.addEventListener("focus", () => void this.suggest());
    queueMicrotask(() => this.autosize());
  }

  get value(): string {
    return this.input.value;
  }

  set value(v: string) {
    this.input.value = v;
    this.autosize();
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(300, Math.max(34, this.input.scrollHeight + 2))}px`;
  }

  showError(message: string | null): void {
    if (!message) {
      this.errorEl.style.display = "none";
      this.input.classList.remove("has-error");
      return;
    }
    const pos = errorPosition(message);
    const parts: Array<Node | string> = [];
    if (pos) {
      const line = this.input.value.split("\n")[pos.line - 1] ?? "";
      parts.push(h("pre", { class: "error-pointer" }, `${line}\n${" ".repeat(Math.max(0, pos.col - 1))}^`));
    }
    replace(this.errorEl, h("span", { class: "error-text" }, message), ...parts);
    this.errorEl.style.display = "block";
    this.input.classList.add("has-error");
  }

  private onKey(e: KeyboardEvent): void {
    const open = this.list.style.display !== "none" && this.items.length > 0;
    if (e.key === "Enter" && e.shiftKey) {
      e.preventDefault();
      this.hide();
      this.opts.onRun(this.input.value);
      return;
    }
    if (!open) {
      if (e.key === " " && e.ctrlKey) {
        e.preventDefault();
        void this.suggest(true);
      }
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : this.items.length - 1)) % this.items.length;
      this.renderList();
    } else if (e.key === "Tab" || e.key === "Enter") {
      e.preventDefault();
      this.accept(this.items[this.active]);
    } else if (e.key === "Escape") {
      this.hide();
    }
  }

  private hide(): void {
    this.list.style.display = "none";
  }

  private async suggest(force = false): Promise<void> {
    const seq = ++this.seq;
    const cursor = this.input.selectionStart ?? this.input.value.length;
    if (!force && document.activeElement !== this.input) return;
    const res = await this.opts.complete(this.input.value, cursor).catch(() => null);
    if (seq !== this.seq) return;
    if (!res || res.items.length === 0) {
      this.hide();
      return;
    }
    const typed = this.input.value.slice(res.from, cursor);
    if (res.items.length === 1 && res.items[0].text === typed) {
      this.hide();
      return;
    }
    this.items = res.items;
    this.from = res.from;
    this.active = 0;
    this.renderList();
    this.list.style.display = "block";
  }

  private renderList(): void {
    replace(
      this.list,
      ...this.items.map((it, i) => {
        const li = h("li", { class: i === this.active ? "active" : "" }, h("span", { class: `kind kind-${it.kind}` }, it.kind[0]), h("span", null, it.label ?? it.text), it.detail ? h("span", { class: "detail" }, it.detail) : null);
        li.addEventListener("mousedown", (e) => {
          e.preventDefault();
          this.accept(it);
        });
        return li;
      }),
    );
    (this.list.children[this.active] as HTMLElement | undefined)?.scrollIntoView({ block: "nearest" });
  }

  private accept(it: Suggestion): void {
    const cursor = this.input.selectionStart ?? this.input.value.length;
    const v = this.input.value;
    this.input.value = v.slice(0, this.from) + it.text + v.slice(cursor);
    const pos = this.from + it.text.length - (it.text.endsWith("()") ? 1 : 0);
    this.input.setSelectionRange(pos, pos);
    this.hide();
    this.autosize();
    this.opts.onChange?.(this.input.value);
    this.input.focus();
  }
}
