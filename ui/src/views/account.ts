// The account window: who this window is, the profile, the actions, and what state the connection is in.
// Built once per account and updated in place, so a background refresh never wipes what the player is typing.
import { api, errorMessage, type AccountProfile, type Rules, type SavedAccount, type Stat, type WindowState } from "../api";
import { badge, busy, h, initial, timeAgo } from "../dom";

/** The stats a player trains, in the order shown. */
const STATS: readonly Stat[] = ["strength", "agility", "chakra"];

export interface AccountContext {
  account: SavedAccount;
  onState: (state: WindowState) => void;
  onProfile: (answer: AccountProfile) => void;
  onPanel: () => void;
}

export interface AccountView {
  element: HTMLElement;
  update: (state: WindowState) => void;
}

export function accountView(context: AccountContext): AccountView {
  const { account } = context;
  const field = (testid: string, cls = "") => h("span", { testid, class: cls }, "…");
  const username = field("profile-username", "name");
  const level = field("profile-level");
  const village = field("profile-village");
  const ryo = field("profile-ryo", "ryo");
  const xpBar = h("div", { class: "bar" });
  const xpText = h("span", { class: "muted small-text" });
  const stats = h("dl", { class: "stats" });
  const banner = h("p", { class: "banner", testid: "status-banner", hidden: true });
  const actionError = h("p", { class: "error", testid: "action-error", role: "alert", hidden: true });
  const showError = (text: string | null) => {
    actionError.textContent = text ?? "";
    actionError.hidden = !text;
  };
  username.textContent = account.username;

  const act = (button: HTMLButtonElement, action: () => Promise<AccountProfile>) =>
    busy(button, async () => {
      showError(null);
      try {
        context.onProfile(await action());
      } catch (e) {
        showError(errorMessage(e));
      }
    });

  // Train
  const stat = h("select", { "aria-label": "Stat to train" }, ...STATS.map((s) => h("option", { value: s }, s)));
  const train = h("button", { testid: "train-button", class: "primary" }, "Train");
  train.addEventListener("click", () => act(train, () => api.train(stat.value as Stat)));

  // Travel: the villages and the cost are the server's, sent with the profile.
  const villageSelect = h("select", { testid: "travel-select", "aria-label": "Village" });
  const travel = h("button", { testid: "travel-button" }, "Travel");
  travel.addEventListener("click", () => act(travel, () => api.travel(villageSelect.value)));
  let shownRules = "";
  const showRules = (rules: Rules) => {
    const key = JSON.stringify(rules);
    if (key === shownRules) return;
    shownRules = key;
    const chosen = villageSelect.value;
    villageSelect.replaceChildren(...rules.villages.map((v) => h("option", { value: v }, v)));
    if (rules.villages.includes(chosen)) villageSelect.value = chosen;
    travel.textContent = `Travel (${rules.travel_cost} ryo)`;
  };

  // Send ryo, with a confirmation step
  const sendTo = h("input", { testid: "send-to", placeholder: "Player", autocomplete: "off", "aria-label": "Send to" });
  const sendAmount = h("input", { testid: "send-amount", placeholder: "Amount", inputmode: "numeric", "aria-label": "Amount" });
  const send = h("button", { testid: "send-button" }, "Send ryo");
  const confirmText = h("span", {});
  const confirmSend = h("button", { testid: "send-confirm", class: "primary" }, "Send");
  const cancelSend = h("button", { class: "ghost" }, "Cancel");
  const confirmRow = h("div", { class: "confirm", hidden: true }, confirmText, confirmSend, cancelSend);
  send.addEventListener("click", () =>
    busy(send, async () => {
      showError(null);
      const to = sendTo.value.trim();
      const amount = sendAmount.value.trim();
      // The shell's checks, the same the transfer itself makes: one set of rules and sentences.
      try {
        await api.checkTransfer(to, amount);
      } catch (e) {
        return showError(errorMessage(e));
      }
      confirmText.textContent = `Send ${amount} ryo to ${to}?`;
      confirmRow.hidden = false;
      send.hidden = true;
      confirmSend.focus();
    }),
  );
  const closeConfirm = () => {
    confirmRow.hidden = true;
    send.hidden = false;
  };
  cancelSend.addEventListener("click", closeConfirm);
  confirmSend.addEventListener("click", () =>
    act(confirmSend, async () => {
      try {
        const profile = await api.transfer(sendTo.value.trim(), sendAmount.value.trim());
        sendAmount.value = "";
        return profile;
      } finally {
        closeConfirm();
      }
    }),
  );

  // Account menu
  const menuButton = h("button", { testid: "account-menu", class: "ghost menu-button", "aria-haspopup": "menu" }, "☰");
  const switchItem = h("button", { testid: "menu-switch", role: "menuitem" }, "Switch account…");
  const newWindow = h("button", { testid: "menu-new-window", role: "menuitem" }, "Open an account in a new window  Ctrl+N");
  const panelItem = h("button", { testid: "menu-accounts", role: "menuitem" }, "Accounts, groups, streamer mode…  Ctrl+Shift+A");
  panelItem.addEventListener("click", () => {
    menu.hidden = true;
    context.onPanel();
  });
  const signOut = h("button", { testid: "menu-sign-out", role: "menuitem", class: "danger" }, `Sign out ${account.username}`);
  const mark = badge(account.colour, account.username, "large");
  const switchList = h("div", { class: "switch-list", hidden: true });
  const menu = h("div", { class: "menu", role: "menu", hidden: true }, switchItem, switchList, newWindow, panelItem, signOut);
  menuButton.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    switchList.hidden = true;
  });
  switchItem.addEventListener("click", async () => {
    const accounts = await api.savedAccounts();
    switchList.replaceChildren(
      ...accounts
        .filter((a) => a.id !== account.id)
        .map((a) => {
          const item = h("button", { role: "menuitem" }, badge(a.colour, a.username, "tiny"), ` ${a.username}`);
          item.addEventListener("click", async () => {
            menu.hidden = true;
            try {
              context.onState(await api.openSaved(a.id));
            } catch (e) {
              showError(errorMessage(e));
            }
          });
          return item;
        }),
      h("p", { class: "muted small-text" }, accounts.length > 1 ? "" : "No other saved accounts. Sign in from a new window."),
    );
    switchList.hidden = false;
  });
  newWindow.addEventListener("click", () => {
    menu.hidden = true;
    void api.openWindow(null).catch((e) => showError(errorMessage(e)));
  });
  signOut.addEventListener("click", () =>
    busy(signOut, async () => {
      menu.hidden = true;
      context.onState(await api.signOut());
    }),
  );

  const header = h(
    "header",
    { class: "account-header" },
    mark,
    h("div", { class: "who" }, username, h("span", { class: "muted" }, "Level ", level, " · ", village)),
    menuButton,
    menu,
  );
  const accent = h("div", { class: "accent" });
  accent.style.backgroundColor = account.colour;

  const element = h(
    "section",
    { class: "view view-account", testid: "view-account" },
    accent,
    header,
    banner,
    h(
      "section",
      { class: "card profile" },
      h("div", { class: "ryo-line" }, ryo, h("span", { class: "muted" }, " ryo")),
      h("div", { class: "xp" }, h("div", { class: "track" }, xpBar), xpText),
      stats,
    ),
    h("section", { class: "card actions" }, h("h3", {}, "Train"), h("div", { class: "row" }, stat, train)),
    h("section", { class: "card actions" }, h("h3", {}, "Travel"), h("div", { class: "row" }, villageSelect, travel)),
    h(
      "section",
      { class: "card actions" },
      h("h3", {}, "Send ryo"),
      h("div", { class: "row" }, sendTo, sendAmount, send),
      confirmRow,
    ),
    actionError,
  );

  const update = (state: WindowState) => {
    // The account's name and colour follow the shell (an alias, streamer mode), in place: nothing typed is lost.
    if (state.account && state.account.id === account.id) {
      mark.textContent = initial(state.account.username);
      mark.style.backgroundColor = state.account.colour;
      accent.style.backgroundColor = state.account.colour;
      signOut.textContent = `Sign out ${state.account.username}`;
    }
    const profile = state.profile;
    if (!profile) {
      // Nothing known of this account yet: no numbers at all, never another account's.
      username.textContent = state.account?.username ?? "…";
      for (const field of [level, village, ryo]) field.textContent = "…";
      xpBar.style.width = "0";
      xpText.textContent = "";
      stats.replaceChildren();
    } else {
      username.textContent = profile.username;
      level.textContent = String(profile.level);
      village.textContent = profile.village;
      ryo.textContent = state.hideBalances ? "•••" : profile.ryo.toLocaleString("en-US");
      const rules = profile.rules;
      if (rules) {
        showRules(rules);
        const progress = profile.xp % rules.xp_per_level;
        xpBar.style.width = `${(100 * progress) / rules.xp_per_level}%`;
        xpText.textContent = `${progress} / ${rules.xp_per_level} xp to level ${profile.level + 1}`;
      } else {
        // A copy cached before the server said its rules: the next answer brings them.
        xpText.textContent = `${profile.xp} xp`;
      }
      // Each stat a group of its own, so narrow windows and large text wrap whole stats onto a new line.
      stats.replaceChildren(
        ...STATS.map((name) => h("div", { class: "stat" }, h("dt", {}, name), h("dd", {}, String(profile.stats[name])))),
      );
    }
    const text = bannerText(state);
    banner.textContent = text ?? "";
    banner.hidden = !text;
    banner.className = `banner ${state.status}`;
    element.classList.toggle("stale", state.status === "offline" || state.status === "keychain_locked");
  };
  return { element, update };
}

/** The line over the profile saying what state the account is in, and for "offline" why (issue 18). */
export function bannerText(state: WindowState): string | null {
  const when = state.cachedAt ?? (state.profile ? Date.parse(state.profile.updated_at) / 1000 : null);
  switch (state.status) {
    case "offline": {
      const shown = state.profile ? `Showing data from ${timeAgo(when)}` : "Nothing saved to show yet";
      switch (state.offline?.cause) {
        case "proxy": {
          const proxy = state.offline.proxy ? `the proxy ${state.offline.proxy}` : "the proxy";
          return `Offline: Kage cannot reach ${proxy} for this account (other accounts are not affected). ${shown}; Kage keeps trying.`;
        }
        case "game_server":
          return `Offline: the game server does not answer. ${shown}; Kage keeps trying.`;
        case "proxy_not_usable":
          return `Offline: ${state.offline.reason} ${shown}.`;
        case "no_network":
          return `Offline: this computer has no network connection. ${shown}; Kage tries again when it is back.`;
        default:
          return `Offline. ${shown}; Kage keeps trying.`;
      }
    }
    case "keychain_locked":
      return state.keychain ?? "The system keychain is not available. Kage keeps trying; nothing is lost.";
    case "loading":
      return state.notice ?? (state.profile ? "Updating…" : "Connecting…");
    default:
      return state.keychain ?? state.notice;
  }
}
