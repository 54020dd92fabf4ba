// The accounts panel, reachable from every window: each saved account with its state and settings, launch
// groups, tiling, streamer mode, and moving accounts to another computer. It shows what the shell sends (names
// already follow streamer mode) and keeps nothing of its own.
import { api, errorMessage, type GroupTemplate, type Prefs, type SavedAccount } from "../api";
import { busy, h } from "../dom";
import { accountRow, type AccountRow } from "./panel-row";
import { groupControls } from "./panel-group";
import { webGamesSection } from "./panel-web";
import { GROUPS_CHANGED } from "./panel-web-comforts";

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

  // One row per account, kept while the panel is open: an update patches it (see `panel-row.ts`), so a settings
  // form being typed into stays as it is while the list changes around it.
  const rows = new Map<string, AccountRow>();
  let groupNames: string | null = null;

  const render = (accounts: SavedAccount[]) => {
    const shown = new Set<string>();
    accounts.forEach((account, index) => {
      let row = rows.get(account.id);
      if (!row) {
        row = accountRow(account, { say, attempt, render });
        rows.set(account.id, row);
      }
      row.update(account, index);
      list.append(row.element); // moves an existing row into its place; nothing in it is rebuilt
      shown.add(account.id);
    });
    for (const [id, row] of rows) {
      if (!shown.has(id)) {
        row.element.remove();
        rows.delete(id);
      }
    }
    repaintGroups();
  };
  // Groups hold web accounts too: the shell's list of groups (with their templates) is the one to show.
  const repaintGroups = () => void api.groupTemplates().then(paintGroups, () => undefined);
  const paintGroups = (templates: GroupTemplate[]) => {
    const names = templates.map((t) => t.group);
    if (names.join("\n") === groupNames) return;
    groupNames = names.join("\n");
    const openAll = h("button", { testid: "open-all", class: "primary small" }, "Open all");
    openAll.addEventListener("click", () =>
      busy(openAll, () => attempt(async () => say(`Opening ${countAccounts(await api.openAccounts(null))}…`))),
    );
    const controls = names.map((name) => ({ name, ...groupControls(name, { say, attempt, count: countAccounts }) }));
    groups.replaceChildren(openAll, ...controls.map((c) => c.element));
    for (const { group, template } of templates) controls.find((c) => c.name === group)?.setTemplate(template);
  };

  // Preferences: streamer mode first, it is the one a player reaches for in a hurry.
  const streamer = h("input", { type: "checkbox", testid: "streamer-mode" });
  const hideBalances = h("input", { type: "checkbox", testid: "hide-balances" });
  const stagger = h("input", { type: "number", min: "0", max: "30", step: "0.5", testid: "stagger", "aria-label": "Seconds between windows" });
  const globalKeys = h("input", { type: "checkbox", testid: "global-shortcuts" });
  const nextKey = h("input", { testid: "shortcut-next", "aria-label": "Next account shortcut" });
  const previousKey = h("input", { testid: "shortcut-previous", "aria-label": "Previous account shortcut" });
  const keepInTray = h("input", { type: "checkbox", testid: "keep-in-tray" });
  const clickThrough = h("input", { type: "checkbox", testid: "overview-click-through" });
  const opacity = h("input", { type: "number", min: "30", max: "100", step: "5", testid: "overview-opacity", "aria-label": "Overview opacity in percent" });
  // Hibernation: minutes here; the shell keeps seconds (0 is never).
  const hibernateAfter = h("input", { type: "number", min: "0", max: "1440", step: "1", testid: "hibernate-after", "aria-label": "Minutes before a hidden window hibernates" });
  const hibernateUnfocused = h("input", { type: "checkbox", testid: "hibernate-unfocused" });
  const liveCap = h("input", { type: "number", min: "0", max: "99", step: "1", testid: "live-window-cap", "aria-label": "Most account windows kept awake" });
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
      overviewClickThrough: clickThrough.checked,
      overviewOpacity: Math.round(Number(opacity.value || "100")),
      hibernateAfterSecs: Math.round(Number(hibernateAfter.value || "0") * 60),
      hibernateUnfocused: hibernateUnfocused.checked,
      liveWindowCap: Math.max(0, Math.round(Number(liveCap.value || "0"))),
    };
    await attempt(async () => {
      const applied = await api.setPrefs(next);
      prefs = applied.prefs;
      say(applied.notice, applied.notice !== null);
      // Names change with streamer mode: the shell tells every window (this one too) to repaint.
      render(await api.savedAccounts());
    });
  };
  for (const input of [streamer, hideBalances, stagger, globalKeys, nextKey, previousKey, keepInTray, clickThrough, opacity, hibernateAfter, hibernateUnfocused, liveCap]) {
    input.addEventListener("change", () => void savePrefs());
  }

  const web = webGamesSection(say);
  web.element.addEventListener(GROUPS_CHANGED, repaintGroups);

  const tile = h("button", { testid: "tile-windows", class: "small" }, "Tile windows");
  tile.addEventListener("click", () => busy(tile, () => attempt(async () => say(`Tiled ${await api.tileWindows()} window(s).`))));

  const overview = h("button", { testid: "open-overview", class: "small" }, "Overview  Ctrl+Shift+O");
  overview.addEventListener("click", () => busy(overview, () => attempt(() => api.openOverview())));

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
      h("div", { class: "row wrap" }, tile, overview),
      web.element,
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
        h("label", { class: "check" }, clickThrough, " Overview lets clicks through (turn off here to click its tiles again)"),
        h("label", { class: "inline" }, "Overview opacity, % ", opacity),
        h("label", { class: "inline" }, "Hibernate a hidden or minimised window after (minutes, 0 never) ", hibernateAfter),
        h("label", { class: "check" }, hibernateUnfocused, " Also hibernate windows shown without the focus"),
        h("label", { class: "inline" }, "Keep at most this many windows awake (0 no limit) ", liveCap),
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
  const onDisplay = () => {
    void api.savedAccounts().then(render, () => undefined);
    void web.refresh();
  };
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
    clickThrough.checked = current.overviewClickThrough;
    opacity.value = String(current.overviewOpacity);
    hibernateAfter.value = String(current.hibernateAfterSecs / 60);
    hibernateUnfocused.checked = current.hibernateUnfocused;
    liveCap.value = String(current.liveWindowCap);
    render(accounts);
  });
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
        const web = done.webAccounts > 0 ? `, and ${done.webAccounts} browser game account(s) without their sign-ins,` : "";
        say(`Exported ${countAccounts(done.accounts)} (${done.withCredentials} with their sign-in)${web} to ${done.path}.`);
      }),
    ),
  );
  importButton.addEventListener("click", () =>
    busy(importButton, () =>
      attempt(async () => {
        const done = await api.importAccounts(passphrase.value);
        passphrase.value = "";
        const web = done.webAdded > 0 ? ` ${done.webAdded} browser game account(s) added: sign in to each on its site.` : "";
        say(`Imported: ${done.added} new, ${done.merged} already here, ${done.credentials} sign-in(s) saved to the keychain.${web}`);
        await refresh();
      }),
    ),
  );
  return h(
    "section",
    { class: "prefs" },
    h("h3", {}, "Move to another computer"),
    h("p", { class: "muted small-text" }, "The file is encrypted with your passphrase. With sign-ins included, the accounts open on the other computer without a password. Browser games move as their names and settings; their sign-ins stay on this computer (sign in on the site again there)."),
    passphrase,
    h("label", { class: "check" }, credentials, " Include sign-ins (the file then lets anyone with the passphrase play these accounts)"),
    h("div", { class: "row wrap" }, exportButton, importButton),
  );
}

/** "1 account", "3 accounts". */
function countAccounts(count: number): string {
  return `${count} account${count === 1 ? "" : "s"}`;
}
