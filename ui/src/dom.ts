// A tiny element builder: no innerHTML with data, so nothing a server sends can become markup.

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (name === "class") element.className = String(value);
    else if (name === "testid") element.dataset.testid = String(value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** Runs `action` with `button` disabled, so a double click sends once. */
export async function busy<T>(button: HTMLButtonElement, action: () => Promise<T>): Promise<T | undefined> {
  if (button.disabled) return undefined;
  button.disabled = true;
  button.classList.add("pending");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.classList.remove("pending");
  }
}

export function toast(text: string, shownFor = 5000): void {
  const holder = document.getElementById("toasts");
  if (!holder) return;
  const item = h("div", { class: "toast", testid: "toast", role: "status" }, text);
  holder.append(item);
  setTimeout(() => item.remove(), shownFor);
}

export function initial(name: string): string {
  return (name.trim()[0] ?? "?").toUpperCase();
}

export function badge(colour: string, name: string, size = ""): HTMLElement {
  const element = h("span", { class: `badge ${size}` }, initial(name));
  element.style.backgroundColor = colour;
  return element;
}

export function timeAgo(unixSeconds: number | null): string {
  if (unixSeconds === null) return "earlier";
  const at = new Date(unixSeconds * 1000);
  return at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
