// The accounts panel, reachable from every window: each saved account with its state and settings, launch
// groups, tiling, streamer mode, and moving accounts to another computer. It shows what the shell sends (names
// already follow streamer mode) and keeps nothing of its own.
import { api, errorMessage, type Prefs, type SavedAccount } from "../api";
import { badge, busy, h } from "../dom";

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

/** Opens the panel over the window's content; `onClose` runs when it is dismissed. */
export function openPanel(onClose: () => void): void {
  const existing = document.querySelector<HTMLElement>("[data-testid=accounts-panel]");
  if (existing) {
    existing.querySelector<HTMLButtonElement>("button")?.focus();
    return;
  }
  const message = h("p", { class: "banner", testid: "panel-message", role: "status", hidden: true });
  const say = (text: string | null, warn = false) => {
    message.textContent = text ?? "";
    message.hidden = !text;
    message.classList.toggle("warn", warn);
  };
  const attempt = async (action: () => Promise<void>) => {
    try {
      await action();
    } catch (e) {
      say(errorMessage(e), true);
    }
  };

  const list = h("ul", { class: "saved panel-accounts", testid: "panel-accounts" });
  const groups = h("div", { class: "row wrap", testid: "panel-groups" });
  let prefs: Prefs | null = null;

  const render = (accounts: SavedAccount[]) => {
    list.replaceChildren(...accounts.map((account, index) => accountItem(account, index)));
    const names = [...new Set(accounts.flatMap((a) => a.groups))];
    const openAll = h("button", { testid: "open-all", class: "primary small" }, "Open all");
    openAll.addEventListener("click", () =>
      busy(openAll, () => attempt(async () => say(`Opening ${countAccounts(await api.openAccounts(null))}…`))),
    );
    groups.replaceChildren(
      openAll,
      ...names.map((name) => {
        const open = h("button", { testid: "open-group", class: "small", "data-group": name }, `Open ${name}`);
        open.addEventListener("click", () =>
          busy(open, () => attempt(async () => say(`Opening ${countAccounts(await api.openAccounts(name))} of ${name}…`))),
        );
        return open;
      }),
    );
  };

  const accountItem = (account: SavedAccount, index: number) => {
    const open = h("button", { class: "small primary", testid: "panel-open" }, "Open");
    open.addEventListener("click", () => busy(open, () => attempt(() => api.focusAccount(index + 1))));
    const signOut = h("button", { class: "small ghost", testid: "panel-sign-out" }, "Sign out");
    signOut.hidden = account.status === "signed_out";
    signOut.addEventListener("click", () => busy(signOut, () => attempt(async () => render(await api.signOutAccount(account.id)))));
    const forget = h("button", { class: "small ghost danger", testid: "panel-forget" }, "Forget");
    forget.addEventListener("click", () => {
      if (!confirm(`Forget ${account.username} on this computer? Its saved sign-in and cached data are removed.`)) return;
      void busy(forget, () => attempt(async () => render(await api.forgetAccount(account.id))));
    });
    const edit = h("button", { class: "small ghost", testid: "panel-edit" }, "Settings");
    const form = settingsForm(account, (accounts) => {
      say("Saved.");
      render(accounts);
    }, say);
    form.hidden = true;
    edit.addEventListener("click", () => (form.hidden = !form.hidden));
    return h(
      "li",
      { testid: "panel-account", "data-account": account.id },
      h(
        "div",
        { class: "panel-row" },
        h("span", { class: "muted small-text key" }, index < 9 ? `Ctrl+${index + 1}` : ""),
        badge(account.colour, account.username),
        h(
          "div",
          { class: "who" },
          h("strong", { testid: "panel-name" }, account.name),
          h("span", { class: "muted small-text" }, [statusText(account.status), ...account.groups].join(" · ")),
        ),
        open,
        edit,
        signOut,
        forget,
      ),
      form,
    );
  };

  // Preferences: streamer mode first, it is the one a player reaches for in a hurry.
  const streamer = h("input", { type: "checkbox", testid: "streamer-mode" });
  const hideBalances = h("input", { type: "checkbox", testid: "hide-balances" });
  const stagger = h("input", { type: "number", min: "0", max: "30", step: "0.5", testid: "stagger", "aria-label": "Seconds between windows" });
  const globalKeys = h("input", { type: "checkbox", testid: "global-shortcuts" });
  const nextKey = h("input", { testid: "shortcut-next", "aria-label": "Next account shortcut" });
  const previousKey = h("input", { testid: "shortcut-previous", "aria-label": "Previous account shortcut" });
  const keepInTray = h("input", { type: "checkbox", testid: "keep-in-tray" });
  const savePrefs = async () => {
    if (!prefs) return;
    const next: Prefs = {
      streamerMode: streamer.checked,
      hideBalances: hideBalances.checked,
      staggerMs: Math.round(Number(stagger.value || "0") * 1000),
      globalShortcuts: globalKeys.checked,
      shortcutNext: nextKey.value,
      shortcutPrevious: previousKey.value,
      keepInTray: keepInTray.checked,
    };
    await attempt(async () => {
      const applied = await api.setPrefs(next);
      prefs = applied.prefs;
      say(applied.notice, applied.notice !== null);
      // Names change with streamer mode: the shell tells every window (this one too) to repaint.
      render(await api.savedAccounts());
    });
  };
  for (const input of [streamer, hideBalances, stagger, globalKeys, nextKey, previousKey, keepInTray]) {
    input.addEventListener("change", () => void savePrefs());
  }

  const tile = h("button", { testid: "tile-windows", class: "small" }, "Tile windows");
  tile.addEventListener("click", () => busy(tile, () => attempt(async () => say(`Tiled ${await api.tileWindows()} window(s).`))));

  const element = h(
    "div",
    { class: "overlay", testid: "accounts-panel", role: "dialog", "aria-label": "Accounts" },
    h(
      "section",
      { class: "panel card" },
      h("header", { class: "panel-head" }, h("h2", {}, "Accounts"), closeButton()),
      message,
      groups,
      list,
      h("div", { class: "row wrap" }, tile),
      h(
        "section",
        { class: "prefs" },
        h("h3", {}, "Preferences"),
        h("label", { class: "check" }, streamer, " Streamer mode: aliases only, no usernames or servers"),
        h("label", { class: "check" }, hideBalances, " In streamer mode, hide ryo balances"),
        h("label", { class: "inline" }, "Seconds between windows when opening several ", stagger),
        h("label", { class: "check" }, globalKeys, " Global shortcuts to cycle accounts from any program"),
        h("div", { class: "row" }, nextKey, previousKey),
        h("label", { class: "check" }, keepInTray, " Keep Kage in the tray when its last window closes (notifications keep coming)"),
      ),
      transferSection(say, attempt, async () => render(await api.savedAccounts())),
    ),
  );
  function closeButton() {
    const close = h("button", { class: "ghost", testid: "panel-close", "aria-label": "Close" }, "✕");
    close.addEventListener("click", dismiss);
    return close;
  }
  function dismiss() {
    element.remove();
    document.removeEventListener("keydown", onKey);
    window.removeEventListener("kage:display", onDisplay);
    onClose();
  }
  const onKey = (event: KeyboardEvent) => {
    if (event.key === "Escape") dismiss();
  };
  document.addEventListener("keydown", onKey);
  // Another window turned streamer mode on or renamed an account: repaint the list here too.
  const onDisplay = () => void api.savedAccounts().then(render, () => undefined);
  window.addEventListener("kage:display", onDisplay);
  element.addEventListener("click", (event) => {
    if (event.target === element) dismiss();
  });
  document.body.append(element);

  void attempt(async () => {
    const [accounts, current] = await Promise.all([api.savedAccounts(), api.prefs()]);
    prefs = current;
    streamer.checked = current.streamerMode;
    hideBalances.checked = current.hideBalances;
    stagger.value = String(current.staggerMs / 1000);
    globalKeys.checked = current.globalShortcuts;
    nextKey.value = current.shortcutNext;
    previousKey.value = current.shortcutPrevious;
    keepInTray.checked = current.keepInTray;
    render(accounts);
  });
}

function settingsForm(
  account: SavedAccount,
  onSaved: (accounts: SavedAccount[]) => void,
  say: (text: string | null, warn?: boolean) => void,
): HTMLFormElement {
  const alias = h("input", { testid: "settings-alias", placeholder: "Alias (shown in streamer mode)", maxlength: "32" });
  alias.value = account.alias ?? "";
  const colour = h("input", { testid: "settings-colour", type: "color" });
  colour.value = account.colour;
  const notifications = h("input", { testid: "settings-notifications", type: "checkbox" });
  notifications.checked = account.notifications;
  const groups = h("input", { testid: "settings-groups", placeholder: "Groups, separated by commas" });
  groups.value = account.groups.join(", ");
  const proxy = h("input", { testid: "settings-proxy", placeholder: "Proxy: socks5://host:1080 or http://host:3128" });
  proxy.value = account.proxy ?? "";
  const save = h("button", { type: "submit", class: "small primary", testid: "settings-save" }, "Save");
  const form = h(
    "form",
    { class: "settings", testid: "account-settings" },
    h("label", {}, "Alias", alias),
    h("label", { class: "inline" }, "Colour ", colour),
    h("label", { class: "check" }, notifications, " Desktop notifications"),
    h("label", {}, "Groups", groups),
    h("label", {}, "Proxy", proxy),
    save,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, async () => {
      try {
        onSaved(
          await api.updateAccount(account.id, {
            alias: alias.value.trim() || null,
            colour: colour.value,
            notifications: notifications.checked,
            groups: groups.value.split(",").map((g) => g.trim()).filter(Boolean),
            proxy: proxy.value.trim() || null,
          }),
        );
      } catch (e) {
        say(errorMessage(e), true);
      }
    });
  });
  return form;
}

/** Export to and import from a passphrase-encrypted file (the shell asks where, with the system's file dialog). */
function transferSection(
  say: (text: string | null, warn?: boolean) => void,
  attempt: (action: () => Promise<void>) => Promise<void>,
  refresh: () => Promise<void>,
): HTMLElement {
  const passphrase = h("input", { type: "password", testid: "transfer-passphrase", placeholder: "Passphrase", autocomplete: "new-password" });
  const credentials = h("input", { type: "checkbox", testid: "export-credentials" });
  const exportButton = h("button", { class: "small", testid: "export-accounts" }, "Export…");
  const importButton = h("button", { class: "small", testid: "import-accounts" }, "Import…");
  exportButton.addEventListener("click", () =>
    busy(exportButton, () =>
      attempt(async () => {
        const done = await api.exportAccounts(passphrase.value, credentials.checked);
        passphrase.value = "";
        say(`Exported ${countAccounts(done.accounts)} (${done.withCredentials} with their sign-in) to ${done.path}.`);
      }),
    ),
  );
  importButton.addEventListener("click", () =>
    busy(importButton, () =>
      attempt(async () => {
        const done = await api.importAccounts(passphrase.value);
        passphrase.value = "";
        say(`Imported: ${done.added} new, ${done.merged} already here, ${done.credentials} sign-in(s) saved to the keychain.`);
        await refresh();
      }),
    ),
  );
  return h(
    "section",
    { class: "prefs" },
    h("h3", {}, "Move to another computer"),
    h("p", { class: "muted small-text" }, "The file is encrypted with your passphrase. With sign-ins included, the accounts open on the other computer without a password."),
    passphrase,
    h("label", { class: "check" }, credentials, " Include sign-ins (the file then lets anyone with the passphrase play these accounts)"),
    h("div", { class: "row wrap" }, exportButton, importButton),
  );
}

/** "1 account", "3 accounts". */
function countAccounts(count: number): string {
  return `${count} account${count === 1 ? "" : "s"}`;
}
