// Wiring: paint at once from what the window already has (its cached profile), then listen and refresh.
// Which screen shows is decided by the window's state from Rust; the page keeps no account of its own.
import { api, errorMessage, type AccountProfile, type AccountUpdate, type Action, type Outcome, type ServerInfo, type WindowState } from "./api";
import { toast } from "./dom";
import { accountView, type AccountView } from "./views/account";
import { openPanel } from "./views/panel";
import { signInView, type SignInView } from "./views/signin";
import { isMine as isMineIn, merge, showsAccount, withProfile } from "./window-model";

const root = document.getElementById("app") as HTMLElement;
let info: ServerInfo;
let state: WindowState;
/** The mounted account view and the account it was built for. */
let mounted: { id: string; view: AccountView } | null = null;
/** The mounted sign-in screen and the account it offers to sign in again (`null`: none), while it shows. */
let signingIn: { key: string; view: SignInView } | null = null;

function render(): void {
  root.dataset.status = state.status;
  document.title = state.account && showsAccount(state) ? `${state.account.name} · Kage` : "Kage";
  if (showsAccount(state) && state.account) {
    signingIn = null;
    if (mounted?.id !== state.account.id) {
      const view = accountView({ account: state.account, onState: setState, onProfile: setProfile, onPanel: showPanel });
      mounted = { id: state.account.id, view };
      root.replaceChildren(view.element);
    }
    mounted.view.update(state);
  } else {
    mounted = null;
    // Rebuilt when what it names changes (another account to sign in again, a name in streamer mode).
    const key = JSON.stringify([state.account?.id, state.account?.username, state.streamer, info.demoPlayers]);
    if (signingIn && signingIn.key === key) {
      // The same screen: only its list of saved accounts changes; what is typed in the form stays.
      signingIn.view.refresh();
      return;
    }
    const view = signInView({ info, previous: state.account, onSignedIn: setState, onPanel: showPanel });
    signingIn = { key, view };
    root.replaceChildren(view.element);
  }
}

function setState(next: WindowState): void {
  const switched = next.account?.id !== state.account?.id;
  state = next;
  render();
  if (switched && showsAccount(next)) void refresh();
}

/** True when `account` is the account this window shows now: anything else is dropped (I3, checked again here). */
function isMine(account: string): boolean {
  return isMineIn(state, account);
}

function setProfile(answer: AccountProfile): void {
  const next = withProfile(state, answer);
  if (!next) return;
  state = next;
  render();
}

async function refresh(): Promise<void> {
  try {
    setProfile(await api.refreshProfile());
  } catch (e) {
    // The window's state says why (offline, keychain locked, signed out); show it, keep the cached profile.
    const latest = await api.windowState().catch(() => null);
    if (latest) setState(merge(state, { ...latest, notice: latest.notice ?? errorMessage(e) }));
  }
}

function onUpdate(update: AccountUpdate): void {
  if (!isMine(update.account)) return;
  switch (update.kind) {
    case "profile":
      setProfile({ account: update.account, profile: update.profile });
      break;
    case "status":
      // Also sent with the status unchanged when the keychain's health changed; it carries the whole state.
      setState(merge(state, update.state));
      break;
    case "transfer_received":
      toast(state.hideBalances ? `${update.from} sent you ryo` : `${update.from} sent you ${update.amount.toLocaleString("en-US")} ryo`);
      break;
    case "action_settled":
      // The "not confirmed" the action left on screen has its answer now.
      document.querySelector<HTMLElement>('[data-testid="action-error"]')?.setAttribute("hidden", "");
      toast(settledText(update.action, update.outcome), 20000);
      break;
  }
}

function settledText(action: Action, outcome: Outcome): string {
  const what =
    action.type === "transfer"
      ? state.hideBalances
        ? `Sending ryo to ${action.to}`
        : `Sending ${action.amount.toLocaleString("en-US")} ryo to ${action.to}`
      : action.type === "train"
        ? `Training ${action.stat}`
        : `Travelling to ${action.village}`;
  switch (outcome.result) {
    case "done":
      return `${what} went through.`;
    case "refused":
      return `${what} was refused: ${outcome.message}`;
    case "not_done":
      return `${what} did not go through; nothing happened. You can do it again.`;
    case "unknown":
      return `The game server cannot say whether ${what.charAt(0).toLowerCase()}${what.slice(1)} went through: check your balance before doing it again.`;
  }
}

/** Repaints from the shell's state (names follow streamer mode and aliases; the view renames itself in place, so
 * nothing the player is typing is lost). */
async function repaint(): Promise<void> {
  const [latestInfo, latest] = await Promise.all([api.serverInfo(), api.windowState()]);
  info = latestInfo;
  setState(merge(state, latest));
  window.dispatchEvent(new CustomEvent("kage:display"));
}

export function showPanel(): void {
  openPanel(() => void repaint());
}

// Ctrl+Shift+A pressed in a web game's window: the shell brings this window forward and asks for the panel.
document.addEventListener("kage:show-panel", () => showPanel());

// Hotkeys, in every account window: Ctrl+N new window, Ctrl+1..9 the Nth saved account, Ctrl+Tab and
// Ctrl+Shift+Tab the next and previous account window, Ctrl+Shift+A the accounts panel, Ctrl+Shift+O the overview.
document.addEventListener("keydown", (event) => {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
  const key = event.key.toLowerCase();
  const act = (action: () => Promise<unknown>) => {
    event.preventDefault();
    action().catch((e) => toast(errorMessage(e)));
  };
  if (key === "n" && !event.shiftKey) act(() => api.openWindow(null));
  else if (/^[1-9]$/.test(event.key) && !event.shiftKey) act(() => api.focusAccount(Number(event.key)));
  else if (key === "tab") act(() => api.cycleWindows(!event.shiftKey));
  else if (key === "a" && event.shiftKey) act(async () => showPanel());
  else if (key === "o" && event.shiftKey) act(() => api.openOverview());
});


async function start(): Promise<void> {
  const loadingInfo = api.serverInfo();
  state = await api.windowState();
  // An account window paints from its cache at once: server_info may have to ask the server how it takes
  // sign-ins, and a server that is down must not keep the cached profile off the screen.
  if (showsAccount(state)) {
    render();
    info = await loadingInfo;
  } else {
    info = await loadingInfo;
    render();
  }
  await api.subscribe(onUpdate);
  // Streamer mode or an alias changed, in this window or another: repaint every name on screen.
  await api.watchDisplay(() => void repaint());
  if (showsAccount(state)) await refresh();
}

start().catch((e) => {
  root.dataset.status = "error";
  root.textContent = `Kage could not start this window: ${errorMessage(e)}`;
});
