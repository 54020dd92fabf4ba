// Typed wrappers over the app's commands. Every type here is generated from the Rust types
// (./generated/contract.ts, src-tauri/src/contract.rs and page_types.rs); this file only names the calls. The window's identity is
// implicit (Tauri attaches the window's label); the page never names an account to act for, except when the
// player picks a saved one.
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AccountSettings,
  AccountUpdate,
  CommandError,
  Commands,
  OverviewMessage,
  Prefs,
  Stat,
  Template,
  WebAccountSettings,
} from "./generated/contract";

export type * from "./generated/contract";

/** What `command` answers; a command that answers nothing (Rust's `()`, sent as `null`) is a `void` call. */
type Answer<K extends keyof Commands> = Commands[K]["result"] extends null ? void : Commands[K]["result"];

/** Calls `command` with its arguments as the contract declares them, and answers what it declares. */
function call<K extends keyof Commands>(
  command: K,
  ...args: Commands[K]["args"] extends null ? [] : [Commands[K]["args"]]
): Promise<Answer<K>> {
  return invoke<Answer<K>>(command, args[0] ?? {});
}

export function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as CommandError).message);
  }
  return String(error);
}

export const api = {
  serverInfo: () => call("server_info"),
  windowState: () => call("window_state"),
  subscribe: (onUpdate: (update: AccountUpdate) => void) => {
    const channel = new Channel<AccountUpdate>();
    channel.onmessage = onUpdate;
    return call("subscribe", { onUpdate: channel });
  },
  watchDisplay: (onChange: () => void) => {
    const channel = new Channel<boolean>();
    channel.onmessage = onChange;
    return call("watch_display", { onChange: channel });
  },
  refreshProfile: () => call("refresh_profile"),
  signIn: (username: string, password: string, remember: boolean) => call("sign_in", { username, password, remember }),
  signInBrowser: (remember: boolean) => call("sign_in_browser", { remember }),
  cancelBrowserSignIn: () => call("cancel_browser_sign_in"),
  openSaved: (accountId: string) => call("open_saved", { accountId }),
  signOut: () => call("sign_out"),
  forgetAccount: (accountId: string) => call("forget_account", { accountId }),
  savedAccounts: () => call("saved_accounts"),
  train: (stat: Stat) => call("train", { stat }),
  travel: (village: string) => call("travel", { village }),
  checkTransfer: (to: string, amount: string) => call("check_transfer", { to, amount }),
  transfer: (to: string, amount: string) => call("transfer", { to, amount }),
  openWindow: (accountId: string | null) => call("open_window", { accountId }),
  openAccounts: (group: string | null) => call("open_accounts", { group }),
  focusAccount: (position: number) => call("focus_account", { position }),
  cycleWindows: (forward: boolean) => call("cycle_windows", { forward }),
  tileWindows: () => call("tile_windows"),
  createShortcut: (accountId: string | null, group: string | null) => call("create_shortcut", { accountId, group }),
  groupTemplates: () => call("group_templates"),
  setGroupTemplate: (group: string, template: Template) => call("set_group_template", { group, template }),
  signOutAccount: (accountId: string) => call("sign_out_account", { accountId }),
  accountSessions: (accountId: string) => call("account_sessions", { accountId }),
  endAccountSession: (accountId: string, sessionId: string) => call("end_account_session", { accountId, sessionId }),
  endOtherSessions: (accountId: string) => call("end_other_sessions", { accountId }),
  updateAccount: (accountId: string, settings: AccountSettings) => call("update_account", { accountId, settings }),
  prefs: () => call("prefs"),
  setPrefs: (prefs: Prefs) => call("set_prefs", { prefs }),
  // The file is the player's choice in the system's file dialog: the page never names one.
  exportAccounts: (passphrase: string, includeCredentials: boolean) =>
    call("export_accounts", { passphrase, includeCredentials, path: null }),
  importAccounts: (passphrase: string) => call("import_accounts", { passphrase, path: null }),
  // Web games: the page names a game or web account the player picked; which web partition a window uses is
  // decided in Rust.
  webGames: () => call("web_games"),
  addWebGame: (startUrl: string, name: string | null) => call("add_web_game", { startUrl, name }),
  setWebGameOrigins: (gameId: string, origins: string[]) => call("set_web_game_origins", { gameId, origins }),
  removeWebGame: (gameId: string) => call("remove_web_game", { gameId }),
  addWebAccount: (gameId: string, name: string) => call("add_web_account", { gameId, name }),
  renameWebAccount: (accountId: string, name: string | null, alias: string | null) =>
    call("rename_web_account", { accountId, name, alias }),
  setWebAccountProxy: (accountId: string, proxy: string | null) => call("set_web_account_proxy", { accountId, proxy }),
  openWebAccount: (accountId: string, newWindow: boolean) => call("open_web_account", { accountId, newWindow }),
  signOutWebAccount: (accountId: string) => call("sign_out_web_account", { accountId }),
  forgetWebAccount: (accountId: string) => call("forget_web_account", { accountId }),
  // A web account's saved sign-in: the password goes to the keychain and never comes back to a page.
  webSignIn: (accountId: string) => call("web_sign_in", { accountId }),
  saveWebSignIn: (accountId: string, origin: string, username: string, password: string) =>
    call("save_web_sign_in", { accountId, origin, username, password }),
  removeWebSignIn: (accountId: string) => call("remove_web_sign_in", { accountId }),
  fillWebSignIn: (accountId: string) => call("fill_web_sign_in", { accountId }),
  setWebAccountSettings: (accountId: string, settings: WebAccountSettings) =>
    call("set_web_account_settings", { accountId, settings }),
  openOverview: () => call("open_overview"),
  // The overview window's own commands (its capability only): its tiles and their updates on its own channel.
  overviewTiles: (onUpdate: (message: OverviewMessage) => void) => {
    const channel = new Channel<OverviewMessage>();
    channel.onmessage = onUpdate;
    return call("overview_tiles", { onUpdate: channel });
  },
  overviewActivate: (key: string) => call("overview_activate", { key }),
  overviewReorder: (keys: string[]) => call("overview_reorder", { keys }),
};
