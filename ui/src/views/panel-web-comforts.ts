// A web account's notifications switch and launch groups, in its Settings form in the "Browser games" section
// (issue 19, item 5). Its own Save, like the proxy's: these save apart from the name.
import { api, type WebAccountView, type WebGameView } from "../api";
import { busy, h } from "../dom";

type Say = (text: string | null, warn?: boolean) => void;

/** Sent (bubbling) from the web section when a web account's groups may have changed: the panel's group
 * buttons are drawn again. */
export const GROUPS_CHANGED = "kage-groups-changed";

export function comfortFields(
  account: WebAccountView,
  attempt: (action: () => Promise<WebGameView[] | void>) => Promise<void>,
  say: Say,
): { element: HTMLElement; fill: () => void } {
  const notifications = h("input", { testid: "web-account-notifications", type: "checkbox" });
  const groups = h("input", { testid: "web-account-groups", placeholder: "Groups, separated by commas", "aria-label": "Groups" });
  const save = h("button", { type: "button", class: "small", testid: "web-account-settings-save" }, "Save notifications and groups");
  save.addEventListener("click", () =>
    busy(save, () =>
      attempt(async () => {
        const games = await api.setWebAccountSettings(account.id, {
          notifications: notifications.checked,
          groups: groups.value.split(",").map((g) => g.trim()).filter(Boolean),
        });
        say("Saved.");
        save.dispatchEvent(new CustomEvent(GROUPS_CHANGED, { bubbles: true }));
        return games;
      }),
    ),
  );
  const element = h(
    "div",
    { class: "settings" },
    h("label", { class: "check" }, notifications, " Desktop notifications (the notifications the game's page sends, shown by Kage with this account's name)"),
    h("label", {}, "Groups", groups),
    h("div", { class: "row" }, save),
  );
  const fill = () => {
    notifications.checked = account.settings.notifications;
    groups.value = account.settings.groups.join(", ");
  };
  return { element, fill };
}
