// The sign-in screen: saved accounts that reopen with one click, and the username/password form.
import { api, errorMessage, type SavedAccount, type ServerInfo, type WindowState } from "../api";
import { badge, busy, h } from "../dom";

export interface SignInContext {
  info: ServerInfo;
  /** The window's account when it was signed out: sign that one in again. */
  previous: SavedAccount | null;
  onSignedIn: (state: WindowState) => void;
  onPanel: () => void;
}

const STATUS_TEXT: Record<string, string> = {
  signed_in: "signed in",
  loading: "connecting",
  offline: "offline",
  keychain_locked: "keychain unavailable",
  signed_out: "needs sign-in",
};

export interface SignInView {
  element: HTMLElement;
  /** Lists the saved accounts again (their states changed): the form and what is typed in it stay. */
  refresh: () => void;
}

export function signInView(context: SignInContext): SignInView {
  const { info, previous } = context;
  const error = h("p", { class: "error", testid: "signin-error", role: "alert", hidden: true });
  const showError = (text: string | null) => {
    error.textContent = text ?? "";
    error.hidden = !text;
  };

  const username = h("input", {
    testid: "signin-username",
    name: "username",
    autocomplete: "username",
    placeholder: "Username",
    required: true,
  });
  username.value = previous?.username ?? "";
  const password = h("input", {
    testid: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    placeholder: "Password",
    required: true,
  });
  // Checked even while the keychain is not reachable: Kage keeps the session in memory and saves it once the
  // keychain answers (a login race or a restarted daemon should not cost the player "remember").
  const remember = h("input", { testid: "signin-remember", type: "checkbox", checked: true });
  remember.checked = true;
  const submit = h("button", { testid: "signin-submit", type: "submit", class: "primary" }, "Sign in");

  const form = h(
    "form",
    { class: "card signin-form", testid: "signin-form" },
    info.passwordSignIn ? h("h2", {}, previous ? `Sign in again as ${previous.username}` : "Sign in") : null,
    // Only what the server offers: a server that takes no passwords is never asked for one.
    previous
      ? h(
          "p",
          { class: "muted", testid: "signin-again" },
          info.passwordSignIn
            ? "This account was signed out. Enter its password to continue."
            : "This account was signed out. Sign in with the browser to continue.",
        )
      : null,
    h("label", {}, "Username", username),
    h("label", {}, "Password", password),
    h("label", { class: "check" }, remember, " Remember on this computer"),
    error,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    showError(null);
    if (!username.value.trim() || !password.value) {
      showError("Enter a username and a password.");
      return;
    }
    void busy(submit, async () => {
      try {
        const state = await api.signIn(username.value.trim(), password.value, remember.checked);
        password.value = "";
        context.onSignedIn(state);
      } catch (e) {
        showError(errorMessage(e));
      }
    });
  });

  // Browser sign-in: the provider's page opens in the system browser; this window waits for its answer.
  const browserButton = h("button", { type: "button", testid: "signin-browser", class: "primary" }, "Sign in with browser");
  const waiting = h("p", { class: "muted", testid: "signin-browser-waiting", hidden: true }, "Waiting for the browser… finish signing in there.");
  const cancelBrowser = h("button", { type: "button", class: "ghost small", testid: "signin-browser-cancel", hidden: true }, "Cancel");
  cancelBrowser.addEventListener("click", () => void api.cancelBrowserSignIn());
  browserButton.addEventListener("click", () => {
    showError(null);
    waiting.hidden = false;
    cancelBrowser.hidden = false;
    void busy(browserButton, async () => {
      try {
        context.onSignedIn(await api.signInBrowser(remember.checked));
      } catch (e) {
        showError(errorMessage(e));
      } finally {
        waiting.hidden = true;
        cancelBrowser.hidden = true;
      }
    });
  });
  const browserCard = info.browserSignIn
    ? h(
        "section",
        { class: "card", testid: "signin-browser-card" },
        h("h2", {}, previous ? `Sign in again as ${previous.username}` : "Sign in with your game account"),
        h("p", { class: "muted" }, "Your browser opens the game's sign-in page; come back here when it says so."),
        browserButton,
        waiting,
        cancelBrowser,
      )
    : null;
  if (!info.passwordSignIn) {
    // The form stays for its "remember" box; the server takes no passwords.
    for (const field of [username, password, submit]) field.closest("label")?.setAttribute("hidden", "");
    submit.hidden = true;
  }

  const saved = h("ul", { class: "saved" });
  const listSaved = (accounts: SavedAccount[]) => {
    saved.replaceChildren(...accounts.map((account) => savedItem(account)));
    savedCard.hidden = accounts.length === 0;
  };
  const savedItem = (account: SavedAccount) => {
    const open = h("button", { testid: "saved-open", class: "primary small" }, "Open");
    open.addEventListener("click", () =>
      busy(open, async () => {
        try {
          context.onSignedIn(await api.openSaved(account.id));
        } catch (e) {
          showError(errorMessage(e));
        }
      }),
    );
    const forget = h("button", { class: "ghost small", title: `Forget ${account.username} on this computer` }, "Forget");
    forget.addEventListener("click", () => {
      if (!confirm(`Forget ${account.username} on this computer? Its saved sign-in and cached data are removed.`)) return;
      void busy(forget, async () => listSaved(await api.forgetAccount(account.id)));
    });
    return h(
      "li",
      { testid: "saved-account", "data-username": account.username },
      badge(account.colour, account.username),
      h(
        "div",
        { class: "who" },
        h("strong", {}, account.username),
        h("span", { class: "muted" }, [account.server ? hostOf(account.server) : null, STATUS_TEXT[account.status] ?? account.status].filter(Boolean).join(" · ")),
      ),
      h("div", { class: "actions" }, open, forget),
    );
  };
  const savedCard = h("section", { class: "card", hidden: true }, h("h2", {}, "Saved accounts"), saved);
  const refresh = () => void api.savedAccounts().then(listSaved, () => undefined);
  refresh();

  const sandbox = info.sandbox
    ? h(
        "section",
        { class: "card note" },
        h("h3", {}, "Playing on the built-in sandbox server"),
        h("p", { class: "muted" }, "Try two accounts in two windows. Click a player to fill the form:"),
        h(
          "div",
          { class: "demo" },
          ...info.demoPlayers.map((player) => {
            const fill = h("button", { type: "button", class: "ghost small" }, `${player.username} / ${player.password}`);
            fill.addEventListener("click", () => {
              username.value = player.username;
              password.value = player.password;
              password.focus();
            });
            return fill;
          }),
        ),
      )
    : info.origin
      ? h("p", { class: "muted server" }, `Server: ${info.origin}`)
      : null;
  const keychain = info.keychain.available
    ? null
    : h(
        "p",
        { class: "banner warn", testid: "keychain-banner" },
        `${info.keychain.message ?? "The system keychain is not available."} Accounts you sign in to now stay signed in and are saved once it answers.`,
      );
  const startupNotice = info.startupNotice ? h("p", { class: "banner warn", testid: "startup-notice" }, info.startupNotice) : null;

  const element = h(
    "section",
    { class: "view view-signin", testid: "view-signin" },
    h("header", { class: "brand" }, h("span", { class: "logo" }), h("h1", {}, "Kage"), panelButton(context.onPanel)),
    startupNotice,
    keychain,
    savedCard,
    browserCard,
    form,
    sandbox,
  );
  return { element, refresh };
}

function panelButton(onPanel: () => void): HTMLElement {
  const button = h("button", { class: "ghost small push-right", testid: "open-panel" }, "Accounts…");
  button.addEventListener("click", onPanel);
  return button;
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return origin;
  }
}
