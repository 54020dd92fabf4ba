// Typed wrappers over the app's commands, and the shapes they return.
//
// The window's identity is implicit: Tauri attaches the calling window's label to every command, so nothing
// here names "which window" or "which account to act as". The only account ids the page ever sends are the
// ones the player picks from the saved list (`openSaved`, `forgetAccount`, `openWindow`).
import { Channel, invoke } from "@tauri-apps/api/core";

export type Status = "loading" | "signed_in" | "offline" | "keychain_locked" | "signed_out";
export type StatName = "strength" | "agility" | "chakra";

export const STATS: readonly StatName[] = ["strength", "agility", "chakra"];
export const VILLAGES = ["Leaf", "Sand", "Mist", "Cloud", "Stone"] as const;
export const TRAVEL_COST = 20;

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

export interface SavedAccount {
  id: string;
  username: string;
  server: string;
  /** A CSS hex colour such as "#c0392b". */
  colour: string;
  status: Status;
}

export interface WindowState {
  account: SavedAccount | null;
  status: Status;
  profile: Profile | null;
  /** When the shown profile was cached, in unix seconds. */
  cachedAt: number | null;
  /** A sentence for the player about the last step, e.g. why an account was not remembered. */
  notice: string | null;
}

export interface ServerInfo {
  origin: string;
  sandbox: boolean;
  demoPlayers: { username: string; password: string }[];
  keychain: { available: boolean; message: string | null };
}

export type WindowUpdate =
  | { kind: "profile"; profile: Profile }
  | { kind: "status"; status: Status }
  | { kind: "transfer_received"; from: string; amount: number };

/** What every command rejects with: a code to branch on, and a sentence written for the player. */
export interface CommandError {
  code: string;
  message: string;
}

export function errorMessage(error: unknown): string {
  if (typeof error === "object" && error !== null && "message" in error) {
    const message = (error as { message: unknown }).message;
    if (typeof message === "string" && message.trim()) return message;
  }
  if (typeof error === "string" && error.trim()) return error;
  return "Something went wrong. Please try again.";
}

export const api = {
  serverInfo: () => invoke<ServerInfo>("server_info"),
  windowState: () => invoke<WindowState>("window_state"),
  /** Live updates for this window's account arrive on a channel this page owns (never a global event). */
  subscribe: (onUpdate: (update: WindowUpdate) => void) => {
    const channel = new Channel<WindowUpdate>();
    channel.onmessage = onUpdate;
    return invoke<void>("subscribe", { onUpdate: channel });
  },
  refreshProfile: () => invoke<Profile>("refresh_profile"),
  signIn: (username: string, password: string, remember: boolean) =>
    invoke<WindowState>("sign_in", { username, password, remember }),
  openSaved: (accountId: string) => invoke<WindowState>("open_saved", { accountId }),
  signOut: () => invoke<WindowState>("sign_out"),
  forgetAccount: (accountId: string) => invoke<SavedAccount[]>("forget_account", { accountId }),
  savedAccounts: () => invoke<SavedAccount[]>("saved_accounts"),
  train: (stat: StatName) => invoke<Profile>("train", { stat }),
  travel: (village: string) => invoke<Profile>("travel", { village }),
  transfer: (to: string, amount: number) => invoke<Profile>("transfer", { to, amount }),
  openWindow: (accountId: string | null) => invoke<string>("open_window", { accountId }),
};
