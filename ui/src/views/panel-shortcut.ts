// "Create shortcut" for an account or a launch group: the shell writes a desktop shortcut that runs
// `kage open <name>` (or `kage open --group <name>`), and answers with the name the desktop's menu shows.
import { api } from "../api";
import { busy, h } from "../dom";

export type ShortcutTarget = { accountId: string } | { group: string };

export function shortcutButton(
  target: () => ShortcutTarget,
  say: (text: string | null, warn?: boolean) => void,
  attempt: (action: () => Promise<void>) => Promise<void>,
): HTMLButtonElement {
  const button = h("button", { class: "small ghost", testid: "create-shortcut", title: "Add a shortcut to your desktop's menu" }, "Shortcut");
  button.addEventListener("click", () =>
    busy(button, () =>
      attempt(async () => {
        const which = target();
        const made = await api.createShortcut("accountId" in which ? which.accountId : null, "group" in which ? which.group : null);
        say(`Added “${made.menuName}” to your desktop's menu (${made.fileName}).`);
      }),
    ),
  );
  return button;
}
