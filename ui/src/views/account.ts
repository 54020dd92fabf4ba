// The account window: who this window is, the profile, the actions, and what state the connection is in.
// Built once per account and updated in place, so a background refresh never wipes what the player is typing.
import { api, errorMessage, VILLAGES, type AccountProfile, type SavedAccount, type StatName, type WindowState } from "../api";
import { badge, busy, h, timeAgo } from "../dom";

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
  const stat = h("select", { "aria-label": "Stat to train" }, ...["strength", "agility", "chakra"].map((s) => h("option", { value: s }, s)));
  const train = h("button", { testid: "train-button", class: "primary" }, "Train");
  train.addEventListener("click", () => act(train, () => api.train(stat.value as StatName)));

  // Travel
  const villageSelect = h("select", { testid: "travel-select", "aria-label": "Village" }, ...VILLAGES.map((v) => h("option", { value: v }, v)));
  const travel = h("button", { testid: "travel-button" }, "Travel (20 ryo)");
  travel.addEventListener("click", () => act(travel, () => api.travel(villageSelect.value)));

  // Send ryo, with a confirmation step
  const sendTo = h("input", { testid: "send-to", placeholder: "Player", autocomplete: "off", "aria-label": "Send to" });
  const sendAmount = h("input", { testid: "send-amount", placeholder: "Amount", inputmode: "numeric", "aria-label": "Amount" });
  const send = h("button", { testid: "send-button" }, "Send ryo");
  const confirmText = h("span", {});
  const confirmSend = h("button", { testid: "send-confirm", class: "primary" }, "Send");
  const cancelSend = h("button", { class: "ghost" }, "Cancel");
  const confirmRow = h("div", { class: "confirm", hidden: true }, confirmText, confirmSend, cancelSend);
  send.addEventListener("click", () => {
    showError(null);
    const to = sendTo.value.trim();
    const amount = sendAmount.value.trim();
    if (!to) return showError("Enter the name of the player to send ryo to.");
    if (!/^\d+$/.test(amount)) return showError("The amount must be a whole number of ryo.");
    if (Number(amount) < 1) return showError("The amount must be at least 1 ryo.");
    confirmText.textContent = `Send ${amount} ryo to ${to}?`;
    confirmRow.hidden = false;
    send.hidden = true;
    confirmSend.focus();
  });
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
    badge(account.colour, account.username, "large"),
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
    const profile = state.profile;
    if (profile) {
      username.textContent = profile.username;
      level.textContent = String(profile.level);
      village.textContent = profile.village;
      ryo.textContent = state.hideBalances ? "•••" : profile.ryo.toLocaleString("en-US");
      const progress = profile.xp % 100;
      xpBar.style.width = `${progress}%`;
      xpText.textContent = `${progress} / 100 xp to level ${profile.level + 1}`;
      stats.replaceChildren(
        // Each stat a group of its own, so narrow windows and large text wrap whole stats onto a new line.
        ...(["strength", "agility", "chakra"] as const).map((name) => h("div", { class: "stat" }, h("dt", {}, name), h("dd", {}, String(profile.stats[name])))),
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

function bannerText(state: WindowState): string | null {
  const when = state.cachedAt ?? (state.profile ? Date.parse(state.profile.updated_at) / 1000 : null);
  switch (state.status) {
    case "offline":
      return `Offline, showing data from ${timeAgo(when)}. Kage keeps trying.`;
    case "keychain_locked":
      return state.keychain ?? "The system keychain is not available. Kage keeps trying; nothing is lost.";
    case "loading":
      return state.notice ?? (state.profile ? "Updating…" : "Connecting…");
    default:
      return state.keychain ?? state.notice;
  }
}
