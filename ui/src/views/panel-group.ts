// One launch group in the accounts panel: "Open <group>", the layout its windows open in, and a desktop shortcut
// that opens it. The shell keeps the layout (templates.rs); this only shows and changes it.
import { api, type Template } from "../api";
import { busy, h } from "../dom";
import { shortcutButton } from "./panel-shortcut";

const TEMPLATES: [Template, string][] = [
  ["remembered", "Where they were"],
  ["grid", "Grid"],
  ["main_and_stack", "One large, rest stacked"],
  ["one_per_monitor", "One per monitor"],
];

export interface GroupContext {
  say: (text: string | null, warn?: boolean) => void;
  attempt: (action: () => Promise<void>) => Promise<void>;
  /** "1 account", "3 accounts". */
  count: (n: number) => string;
}

export interface GroupControls {
  element: HTMLElement;
  /** Shows the template the shell has for this group. */
  setTemplate: (template: Template) => void;
}

export function groupControls(name: string, context: GroupContext): GroupControls {
  const { say, attempt, count } = context;
  const open = h("button", { testid: "open-group", class: "small", "data-group": name }, `Open ${name}`);
  open.addEventListener("click", () =>
    busy(open, () => attempt(async () => say(`Opening ${count(await api.openAccounts(name))} of ${name}…`))),
  );
  const layout = h("select", { testid: "group-template", "data-group": name, "aria-label": `How ${name} opens` });
  for (const [value, label] of TEMPLATES) layout.append(h("option", { value }, label));
  layout.addEventListener("change", () =>
    void attempt(async () => {
      await api.setGroupTemplate(name, layout.value as Template);
      say(`${name} opens as: ${layout.selectedOptions[0]?.textContent ?? layout.value}.`);
    }),
  );
  const shortcut = shortcutButton(() => ({ group: name }), say, attempt);
  shortcut.dataset.group = name;
  shortcut.setAttribute("aria-label", `Shortcut to open ${name}`);
  const element = h("span", { class: "group-buttons" }, open, layout, shortcut);
  return { element, setTemplate: (template) => void (layout.value = template) };
}
