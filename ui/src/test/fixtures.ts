// Windows' states and profiles as the shell sends them, for the page's tests.
import type { Profile, SavedAccount, WindowState } from "../api";

export function account(id: string, username: string): SavedAccount {
  return {
    id,
    username,
    name: username,
    alias: null,
    server: "https://game.example",
    colour: "#3f8efc",
    status: "signed_in",
    notifications: true,
    groups: [],
    proxy: null,
  };
}

export function profile(id: string, username: string, ryo: number, version = 1): Profile {
  return {
    id,
    username,
    level: 3,
    xp: 250,
    village: "Leaf",
    ryo,
    stats: { strength: 7, agility: 5, chakra: 9 },
    version,
    updated_at: "2026-12-03T12:00:00Z",
    rules: { villages: ["Leaf", "Sand"], travel_cost: 20, xp_per_training: 10, xp_per_level: 100, max_transfer: 100000 },
  };
}

export function windowState(of: SavedAccount | null, shown: Profile | null): WindowState {
  return {
    account: of,
    status: of ? "signed_in" : "signed_out",
    profile: shown,
    cachedAt: null,
    notice: null,
    keychain: null,
    streamer: false,
    hideBalances: false,
    offline: null,
  };
}

/** Main (cached, 1,000 ryo) and alt (nothing cached yet). */
export const MAIN = account("a-main", "main");
export const ALT = account("b-alt", "alt");
export const MAIN_PROFILE = profile("user-main", "main", 1000);
