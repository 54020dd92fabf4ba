// Browser games in the accounts panel: add a game by its address, name its accounts, open each in windows of
// its own web data store. The shell decides which store a window uses; this only shows what it answers
// (names already follow streamer mode).
import { api, errorMessage, type WebAccountView, type WebGameView, type WebSignInView } from "../api";
import { busy, h, initial } from "../dom";
import { comfortFields } from "./panel-web-comforts";

type Say = (text: string | null, warn?: boolean) => void;

/** The "Browser games" section; `refresh` is called by the panel when names change elsewhere. */
export function webGamesSection(say: Say): { element: HTMLElement; refresh: () => Promise<void> } {
  const list = h("ul", { class: "saved panel-accounts", testid: "web-games" });
  const attempt = async (action: () => Promise<WebGameView[] | void>) => {
    try {
      const games = await action();
      if (games) render(games);
    } catch (e) {
      say(errorMessage(e), true);
    }
  };
  // Rebuilt only when what the shell answered changed: a repaint asked for by another window (names changed
  // elsewhere) leaves what the player is typing here alone.
  let shown = "";
  const render = (games: WebGameView[]) => {
    const next = JSON.stringify(games);
    if (next === shown) return;
    shown = next;
    list.replaceChildren(...games.map((game) => gameItem(game, attempt, say)));
  };

  const url = h("input", { testid: "web-game-url", placeholder: "https://game.example/play", "aria-label": "Game address" });
  const name = h("input", { testid: "web-game-name", placeholder: "Name (optional)", maxlength: "32", "aria-label": "Game name" });
  const add = h("button", { type: "submit", class: "small primary", testid: "web-game-add" }, "Add game");
  const form = h("form", { class: "row wrap" }, url, name, add);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(add, () =>
      attempt(async () => {
        const games = await api.addWebGame(url.value, name.value.trim() || null);
        url.value = "";
        name.value = "";
        return games;
      }),
    );
  });

  const element = h(
    "section",
    { class: "prefs", testid: "web-games-section" },
    h("h3", {}, "Browser games"),
    h(
      "p",
      { class: "muted small-text" },
      "Any game's own site, one account per window: each account keeps its own cookies and storage, so a main and an alt never see each other. Sign in on the site itself. The site's page is the game's: streamer mode hides names in titles and here, not what the site shows.",
    ),
    form,
    list,
  );
  const refresh = () => attempt(() => api.webGames());
  void refresh();
  return { element, refresh };
}

function gameItem(game: WebGameView, attempt: (action: () => Promise<WebGameView[] | void>) => Promise<void>, say: Say): HTMLElement {
  const origins = h("input", {
    testid: "web-game-origins",
    value: game.allowedOrigins.slice(1).join(", "),
    placeholder: "Other origins it may show, e.g. a sign-in provider's",
    "aria-label": "Other allowed origins",
  });
  const saveOrigins = h("button", { class: "small", testid: "web-game-origins-save" }, "Save origins");
  saveOrigins.addEventListener("click", () =>
    busy(saveOrigins, () =>
      attempt(async () => {
        const games = await api.setWebGameOrigins(game.id, origins.value.split(",").map((o) => o.trim()).filter(Boolean));
        say("Saved.");
        return games;
      }),
    ),
  );
  const accountName = h("input", { testid: "web-account-name", placeholder: "Account name (as you call it)", maxlength: "32", "aria-label": "Account name" });
  const addAccount = h("button", { type: "submit", class: "small primary", testid: "web-account-add" }, "Add account");
  const addForm = h("form", { class: "row wrap" }, accountName, addAccount);
  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(addAccount, () => attempt(() => api.addWebAccount(game.id, accountName.value)));
  });
  const remove = h("button", { class: "small ghost danger", testid: "web-game-remove", hidden: game.accounts.length > 0 }, "Remove game");
  remove.addEventListener("click", () => busy(remove, () => attempt(() => api.removeWebGame(game.id))));

  return h(
    "li",
    { testid: "web-game", "data-game": game.id },
    h("div", { class: "panel-row" }, h("div", { class: "who" }, h("strong", { testid: "web-game-title" }, game.name), h("span", { class: "muted small-text" }, game.allowedOrigins.join(" · "))), h("div", { class: "actions" }, remove)),
    h("ul", { class: "saved" }, ...game.accounts.map((account) => accountItem(account, attempt, say))),
    addForm,
    h("div", { class: "row wrap" }, origins, saveOrigins),
  );
}

function accountItem(account: WebAccountView, attempt: (action: () => Promise<WebGameView[] | void>) => Promise<void>, say: Say): HTMLElement {
  const mark = h("span", { class: "badge" }, initial(account.name));
  mark.style.backgroundColor = account.colour;
  const open = h("button", { class: "small primary", testid: "web-account-open" }, "Open");
  open.addEventListener("click", () => busy(open, () => attempt(() => api.openWebAccount(account.id, false))));
  const another = h("button", { class: "small ghost", testid: "web-account-new-window" }, "New window");
  another.addEventListener("click", () => busy(another, () => attempt(() => api.openWebAccount(account.id, true))));
  const signOut = h("button", { class: "small ghost", testid: "web-account-sign-out" }, "Sign out");
  signOut.addEventListener("click", () => {
    const kept = account.signInOrigin === null ? "" : " Its saved sign-in stays in the keychain, ready to fill.";
    if (!confirm(`Sign ${account.name} out? Its windows close and everything the site kept for it on this computer is deleted.${kept}`)) return;
    void busy(signOut, () => attempt(() => api.signOutWebAccount(account.id)));
  });
  const forget = h("button", { class: "small ghost danger", testid: "web-account-forget" }, "Forget");
  forget.addEventListener("click", () => {
    const saved = account.signInOrigin === null ? "" : " Its saved sign-in is deleted from the keychain.";
    if (!confirm(`Forget ${account.name}? Its windows close and everything the site kept for it on this computer is deleted.${saved}`)) return;
    void busy(forget, () => attempt(() => api.forgetWebAccount(account.id)));
  });
  const openWindows = account.windows === 0 ? "" : account.windows === 1 ? "1 window open" : `${account.windows} windows open`;
  const windows = [account.hotkey === null ? "" : `Ctrl+${account.hotkey}`, openWindows].filter(Boolean).join(" · ");

  // Name and alias. In streamer mode the shell sends no own name (it may be the site's username): the name field
  // starts empty, and left empty it keeps the name.
  const edit = h("button", { class: "small ghost", testid: "web-account-edit", "aria-expanded": "false" }, "Settings");
  const nameInput = h("input", { testid: "web-account-rename", placeholder: "Name (empty: unchanged)", maxlength: "32", "aria-label": "Name" });
  const aliasInput = h("input", { testid: "web-account-alias", placeholder: "Alias (shown in streamer mode)", maxlength: "32", "aria-label": "Alias" });
  const save = h("button", { type: "submit", class: "small primary", testid: "web-account-save" }, "Save");
  // The proxy has its own Save: changing it closes the account's windows (see `set_web_account_proxy`).
  const proxyInput = h("input", {
    testid: "web-account-proxy",
    placeholder: account.proxyHidden ? "Hidden in streamer mode" : "socks5://host:1080 or http://host:3128",
    disabled: account.proxyHidden,
    "aria-label": "Proxy",
  });
  const saveProxy = h("button", { type: "button", class: "small", testid: "web-account-proxy-save", disabled: account.proxyHidden }, "Save proxy");
  saveProxy.addEventListener("click", () =>
    busy(saveProxy, () =>
      attempt(async () => {
        const games = await api.setWebAccountProxy(account.id, proxyInput.value.trim() || null);
        say("Proxy saved. This account's windows closed: open it again to use it (a proxy removed from an account opened since Kage started applies from Kage's next start).");
        return games;
      }),
    ),
  );
  const comforts = comfortFields(account, attempt, say);
  const form = h(
    "form",
    { class: "settings", hidden: true },
    h("label", {}, "Name", nameInput),
    h("label", {}, "Alias", aliasInput),
    h("div", { class: "row" }, save),
    h("label", {}, "Proxy", proxyInput),
    h("div", { class: "row" }, saveProxy),
    comforts.element,
  );
  edit.addEventListener("click", () => {
    const opening = form.hidden;
    if (opening) {
      nameInput.value = account.ownName ?? "";
      aliasInput.value = account.alias ?? "";
      proxyInput.value = account.proxy ?? "";
      comforts.fill();
    }
    form.hidden = !opening;
    edit.setAttribute("aria-expanded", String(opening));
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, () => attempt(() => api.renameWebAccount(account.id, nameInput.value.trim() || null, aliasInput.value.trim() || null)));
  });
  // "Fill sign-in": the shell fills the keychain's sign-in into this account's window, on its saved site only.
  const fill = h("button", { class: "small", testid: "web-account-fill", hidden: account.signInOrigin === null, title: "Or press Ctrl+Shift+L in the account's window" }, "Fill sign-in");
  fill.addEventListener("click", () =>
    busy(fill, async () => {
      try {
        say(await api.fillWebSignIn(account.id));
      } catch (e) {
        say(errorMessage(e), true);
      }
    }),
  );
  const signIn = signInForm(account, attempt, say);
  const signInToggle = h("button", { class: "small ghost", testid: "web-account-sign-in", "aria-expanded": "false" }, "Saved sign-in");
  signInToggle.addEventListener("click", () => {
    const opening = signIn.element.hidden;
    signIn.element.hidden = !opening;
    signInToggle.setAttribute("aria-expanded", String(opening));
    if (opening) void signIn.load();
  });
  return h(
    "li",
    { testid: "web-account", "data-account": account.id },
    h(
      "div",
      { class: "panel-row" },
      mark,
      h("div", { class: "who" }, h("strong", { testid: "web-account-title" }, account.name), h("span", { class: "muted small-text" }, windows)),
      h("div", { class: "actions" }, open, another, fill, edit, signInToggle, signOut, forget),
    ),
    form,
    signIn.element,
  );
}

/** "Save sign-in for this site": the site's username and password, kept in the OS keychain under this account. */
function signInForm(account: WebAccountView, attempt: (action: () => Promise<WebGameView[] | void>) => Promise<void>, say: Say): { element: HTMLElement; load: () => Promise<void> } {
  const origin = h("select", { testid: "web-sign-in-origin", "aria-label": "Site" });
  const username = h("input", { testid: "web-sign-in-username", placeholder: "Username or email on the site", autocomplete: "off", "aria-label": "Username" });
  const password = h("input", { testid: "web-sign-in-password", type: "password", placeholder: "Password on the site", autocomplete: "new-password", "aria-label": "Password" });
  const save = h("button", { type: "submit", class: "small primary", testid: "web-sign-in-save" }, "Save sign-in for this site");
  const remove = h("button", { type: "button", class: "small ghost danger", testid: "web-sign-in-remove", hidden: true }, "Remove saved sign-in");
  const status = h("p", { class: "muted small-text", testid: "web-sign-in-status" }, "");
  const show = (view: WebSignInView) => {
    origin.replaceChildren(...view.origins.map((o) => h("option", { value: o }, o)));
    if (view.origin) origin.value = view.origin;
    const who = view.username ? ` as ${view.username}` : "";
    status.textContent = view.keychainProblem ?? (view.origin ? `Saved for ${view.origin}${who}.` : "No sign-in saved.");
    save.textContent = view.origin ? "Replace saved sign-in" : "Save sign-in for this site";
    remove.hidden = view.origin === null;
  };
  const load = async () => {
    try {
      show(await api.webSignIn(account.id));
    } catch (e) {
      say(errorMessage(e), true);
    }
  };
  const element = h(
    "form",
    { class: "settings", hidden: true, testid: "web-sign-in-form" },
    h("p", { class: "muted small-text" }, "The site's username and password are kept in this computer's system keychain, under this account only. Kage fills them into the site's sign-in form only when you ask (Fill sign-in, or Ctrl+Shift+L in the account's window), and only on the site chosen here. Sign out keeps them; Forget deletes them; they are never exported."),
    h("label", {}, "Site", origin),
    h("label", {}, "Username", username),
    h("label", {}, "Password", password),
    h("div", { class: "row" }, save, remove),
    status,
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    void busy(save, async () => {
      try {
        show(await api.saveWebSignIn(account.id, origin.value, username.value, password.value));
        password.value = "";
        say("Sign-in saved in the system keychain.");
        await attempt(() => api.webGames());
      } catch (e) {
        say(errorMessage(e), true);
      }
    });
  });
  remove.addEventListener("click", () =>
    busy(remove, async () => {
      try {
        show(await api.removeWebSignIn(account.id));
        say("Saved sign-in removed from the system keychain.");
        await attempt(() => api.webGames());
      } catch (e) {
        say(errorMessage(e), true);
      }
    }),
  );
  return { element, load };
}
