// Typed wrappers over the app's commands. The window's identity is implicit (Tauri attaches the window's
// label); the page never names an account to act for, except when the player picks a saved one.
import { Channel, invoke } from "@tauri-apps/api/core";

export type Status = "loading" | "signed_in" | "offline" | "keychain_locked" | "signed_out";
export type StatName = "strength" | "agility" | "chakra";

export interface Profile {
  id: string;
  username: string;
  level: number;
  xp: number;
  village: string;
  ryo: number;
  stats: Record<StatName, number>;
  version: number;
  updated_at: string;
}

/** A saved account as the shell names it (in streamer mode `username` is the alias, `server` is empty). */
export interface SavedAccount {
  id: string;
  username: string;
  /** The name to show (alias and username, or only the alias in streamer mode). */
  name: string;
  alias: string | null;
  server: string;
  colour: string;
  status: Status;
  notifications: boolean;
  groups: string[];
  /** The account's proxy, its password masked. */
  proxy: string | null;
}

export interface AccountSettings {
  alias: string | null;
  colour: string;
  notifications: boolean;
  groups: string[];
  proxy: string | null;
}

export interface Prefs {
  streamerMode: boolean;
  hideBalances: boolean;
  staggerMs: number;
  globalShortcuts: boolean;
  shortcutNext: string;
  shortcutPrevious: string;
  keepInTray: boolean;
}

export interface Exported {
  path: string;
  accounts: number;
  withCredentials: number;
}

export interface Imported {
  added: number;
  merged: number;
  credentials: number;
}

export interface WindowState {
  account: SavedAccount | null;
  status: Status;
  profile: Profile | null;
  cachedAt: number | null;
  notice: string | null;
  /** What is wrong with the keychain for this account, if anything (it may still be signed in). */
  keychain: string | null;
  streamer: boolean;
  hideBalances: boolean;
}

/** A profile answer, labelled with the id of the account it is about. */
export interface AccountProfile {
  account: string;
  profile: Profile;
}

export interface ServerInfo {
  origin: string;
  sandbox: boolean;
  demoPlayers: { username: string; password: string }[];
  keychain: { available: boolean; message: string | null };
  /** Something the player must know about this start (a damaged file kept aside), or null. */
  startupNotice: string | null;
  passwordSignIn: boolean;
  browserSignIn: boolean;
}

/** A channel message; `account` is the id of the account it is about. */
export type WindowUpdate = { account: string } & (
  | { kind: "profile"; profile: Profile }
  | { kind: "status"; status: Status; state: WindowState }
  | { kind: "transfer_received"; from: string; amount: number }
  | { kind: "action_settled"; action: Action; outcome: Outcome }
);

/** An action the window sent (named as the page may show it: `to` follows streamer mode). */
export type Action =
  | { type: "train"; stat: StatName }
  | { type: "travel"; village: string }
  | { type: "transfer"; to: string; amount: number };

/** What became of an action the server had not confirmed. */
export type Outcome = { result: "done" } | { result: "refused"; message: string } | { result: "not_done" } | { result: "unknown" };

/** What every command rejects with: a code to branch on, a sentence for the player. */
export interface CommandError {
  code: string;
  message: string;
}

export function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as CommandError).message);
  }
  return String(error);
}

export const VILLAGES = ["Leaf", "Sand", "Mist", "Cloud", "Stone"] as const;

export const api = {
  serverInfo: () => invoke<ServerInfo>("server_info"),
  windowState: () => invoke<WindowState>("window_state"),
  subscribe: (onUpdate: (update: WindowUpdate) => void) => {
    const channel = new Channel<WindowUpdate>();
    channel.onmessage = onUpdate;
    return invoke<void>("subscribe", { onUpdate: channel });
  },
  watchDisplay: (onChange: () => void) => {
    const channel = new Channel<boolean>();
    channel.onmessage = onChange;
    return invoke<void>("watch_display", { onChange: channel });
  },
  refreshProfile: () => invoke<AccountProfile>("refresh_profile"),
  signIn: (username: string, password: string, remember: boolean) =>
    invoke<WindowState>("sign_in", { username, password, remember }),
  signInBrowser: (remember: boolean) => invoke<WindowState>("sign_in_browser", { remember }),
  cancelBrowserSignIn: () => invoke<boolean>("cancel_browser_sign_in"),
  openSaved: (accountId: string) => invoke<WindowState>("open_saved", { accountId }),
  signOut: () => invoke<WindowState>("sign_out"),
  forgetAccount: (accountId: string) => invoke<SavedAccount[]>("forget_account", { accountId }),
  savedAccounts: () => invoke<SavedAccount[]>("saved_accounts"),
  train: (stat: StatName) => invoke<AccountProfile>("train", { stat }),
  travel: (village: string) => invoke<AccountProfile>("travel", { village }),
  transfer: (to: string, amount: string) => invoke<AccountProfile>("transfer", { to, amount }),
  openWindow: (accountId: string | null) => invoke<string>("open_window", { accountId }),
  openAccounts: (group: string | null) => invoke<number>("open_accounts", { group }),
  focusAccount: (position: number) => invoke<void>("focus_account", { position }),
  cycleWindows: (forward: boolean) => invoke<void>("cycle_windows", { forward }),
  tileWindows: () => invoke<number>("tile_windows"),
  signOutAccount: (accountId: string) => invoke<SavedAccount[]>("sign_out_account", { accountId }),
  updateAccount: (accountId: string, settings: AccountSettings) =>
    invoke<SavedAccount[]>("update_account", { accountId, settings }),
  prefs: () => invoke<Prefs>("prefs"),
  setPrefs: (prefs: Prefs) => invoke<{ prefs: Prefs; notice: string | null }>("set_prefs", { prefs }),
  exportAccounts: (passphrase: string, includeCredentials: boolean, path: string | null) =>
    invoke<Exported>("export_accounts", { passphrase, includeCredentials, path }),
  importAccounts: (passphrase: string, path: string | null) => invoke<Imported>("import_accounts", { passphrase, path }),
};
