// One saved account in the accounts panel: its number, badge, name and state, its buttons, and its settings
// form. Built once per account while the panel is open and patched by `update`, so what the player is typing in
// the form stays while the list changes around it (another account signs in, an alias changes elsewhere).
import { api, errorMessage, type AccountSettings, type SavedAccount } from "../api";
import { busy, h, initial } from "../dom";
import { sessionsList } from "./panel-sessions";
import { shortcutButton } from "./panel-shortcut";

const STATUS_TEXT: Record<string, string> = {
  signed_in: "signed in",
  loading: "connecting",
  offline: "offline",
  keychain_locked: "keychain trouble",
  signed_out: "needs sign-in",
};

export function statusText(status: string): string {
  return STATUS_TEXT[status] ?? status;
}

export interface RowContext {
  say: (text: string | null, warn?: boolean) => void;
  attempt: (action: () => Promise<void>) => Promise<void>;
  /** Shows the list the shell answered with after an action. */
  render: (accounts: SavedAccount[]) => void;
}

export interface AccountRow {
  element: HTMLElement;
  update: (account: SavedAccount, index: number) => void;
}

export function accountRow(first: SavedAccount, context: RowContext): AccountRow {
  const { say, attempt, render } = context;
  let account = first;
  let index = 0;
  const key = h("span", { class: "muted small-text key" });
  const mark = h("span", { class: "badge" });
  const name = h("strong", { testid: "panel-name" });
  const state = h("span", { class: "muted small-text", testid: "panel-status" });

  const open = h("button", { class: "small primary", testid: "panel-open" }, "Open");
  open.addEventListener("click", () => busy(open, () => attempt(() => api.focusAccount(index + 1))));
  const edit = h("button", { class: "small ghost", testid: "panel-edit", "aria-expanded": "false" }, "Settings");
  const sessionsButton = h("button", { class: "small ghost", testid: "panel-sessions", "aria-expanded": "false" }, "Sessions");
  const sessions = sessionsList(() => account.id, say);
  sessions.element.hidden = true;
  sessionsButton.addEventListener("click", () => {
    const opening = sessions.element.hidden;
    sessions.element.hidden = !opening;
    sessionsButton.setAttribute("aria-expanded", String(opening));
    if (opening) void sessions.load();
  });
  const shortcut = shortcutButton(() => ({ accountId: account.id }), say, attempt);
  const signOut = h("button", { class: "small ghost", testid: "panel-sign-out" }, "Sign out");
  signOut.addEventListener("click", () => busy(signOut, () => attempt(async () => render(await api.signOutAccount(account.id)))));
  const forget = h("button", { class: "small ghost danger", testid: "panel-forget" }, "Forget");
  forget.addEventListener("click", () => {
    if (!confirm(`Forget ${account.username} on this computer? Its saved sign-in and cached data are removed.`)) return;
    void busy(forget, () => attempt(async () => render(await api.forgetAccount(account.id))));
  });

  const form = settingsForm(() => account, (accounts) => {
    say("Saved.");
    render(accounts);
  }, say);
  form.element.hidden = true;
  edit.addEventListener("click", () => {
    const opening = form.element.hidden;
    // Opening shows the saved settings; closing throws away what was typed.
    if (opening) form.fill(account);
    form.element.hidden = !opening;
    edit.setAttribute("aria-expanded", String(opening));
  });

  const element = h(
    "li",
    { testid: "panel-account", "data-account": first.id },
    h(
      "div",
      { class: "panel-row" },
      key,
      mark,
      h("div", { class: "who" }, name, state),
      h("div", { class: "actions" }, open, edit, sessionsButton, shortcut, signOut, forget),
    ),
    form.element,
    sessions.element,
  );

  const update = (next: SavedAccount, position: number) => {
    account = next;
    index = position;
    key.textContent = position < 9 ? `Ctrl+${position + 1}` : "";
    mark.textContent = initial(next.username);
    mark.style.backgroundColor = next.colour;
    name.textContent = next.name;
    state.textContent = [statusText(next.status), ...next.groups].join(" · ");
    signOut.hidden = next.status === "signed_out";
    sessionsButton.hidden = next.status === "signed_out";
    // An open form keeps what the player typed; a closed one is filled afresh when opened.
  };
  update(first, 0);
  return { element, update };
}

interface SettingsForm {
  element: HTMLFormElement;
  /** Puts `account`'s saved settings in the fields. */
  fill: (account: SavedAccount) => void;
}

function settingsForm(
  current: () => SavedAccount,
  onSaved: (accounts: SavedAccount[]) => void,
  say: (text: string | null, warn?: boolean) => void,
): SettingsForm {
  const alias = h("input", { testid: "settings-alias", placeholder: "Alias (shown in streamer mode)", maxlength: "32" });
  const colour = h("input", { testid: "settings-colour", type: "color" });
  const notifications = h("input", { testid: "settings-notifications", type: "checkbox" });
  const groups = h("input", { testid: "settings-groups", placeholder: "Groups, separated by commas" });
  const proxy = h("input", { testid: "settings-proxy", placeholder: "socks5://host:1080 or http://host:3128" });
  const save = h("button", { type: "submit", class: "small primary", testid: "settings-save" }, "Save");
  const element = h(
    "form",
    { class: "settings", testid: "account-settings" },
    h("label", {}, "Alias", alias),
    h("label", { class: "inline" }, "Colour ", colour),
    h("label", { class: "check" }, notifications, " Desktop notifications"),
    h("label", {}, "Groups", groups),
    h("label", {}, "Proxy", proxy),
    h("div", { class: "row" }, save),
  );
  const fill = (account: SavedAccount) => {
    alias.value = account.alias ?? "";
    colour.value = account.colour;
    notifications.checked = account.notifications;
    groups.value = account.groups.join(", ");
    proxy.value = account.proxy ?? "";
  };
  fill(current());
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const settings: AccountSettings = {
      alias: alias.value.trim() || null,
      colour: colour.value,
      notifications: notifications.checked,
      groups: groups.value.split(",").map((g) => g.trim()).filter(Boolean),
      proxy: proxy.value.trim() || null,
    };
    void busy(save, async () => {
      try {
        const accounts = await api.updateAccount(current().id, settings);
        const saved = accounts.find((a) => a.id === current().id);
        if (saved) fill(saved); // what the shell kept (trimmed, a proxy password masked)
        onSaved(accounts);
      } catch (e) {
        say(errorMessage(e), true);
      }
    });
  });
  return { element, fill };
}
