// What a window shows, as plain functions of its state: which screen, which messages are its own, and how a new
// state or profile answer combines with the one on screen. Kept apart from the DOM so the rules that keep one
// account's data off another account's screen (I3, again here in the page) are tested on their own
// (`window-model.test.ts`).
import type { AccountProfile, WindowState } from "./api";

/** The account view shows (else the sign-in screen). */
export function showsAccount(current: WindowState): boolean {
  return current.account !== null && current.status !== "signed_out";
}

/** True when `account` is the account `current` shows: a message about any other is dropped. */
export function isMine(current: WindowState, account: string): boolean {
  return current.account !== null && current.account.id === account;
}

/**
 * The state to show when the shell sends `next` while `current` is on screen. A state without a profile keeps the
 * profile on screen only when both are about the same account: a window switching to an account with nothing
 * cached shows no numbers, never the previous account's.
 */
export function merge(current: WindowState, next: WindowState): WindowState {
  const same = current.account !== null && next.account !== null && current.account.id === next.account.id;
  return {
    ...next,
    profile: next.profile ?? (same ? current.profile : null),
    notice: next.notice ?? (same ? current.notice : null),
  };
}

/**
 * `current` with `answer`'s profile on screen, or `null` when the answer must not be shown: it is about another
 * account than the one on screen, or older than the copy already shown.
 */
export function withProfile(current: WindowState, answer: AccountProfile): WindowState | null {
  if (!isMine(current, answer.account)) return null;
  const profile = answer.profile;
  // Only ever newer: an older copy arriving late never replaces a newer one on screen.
  if (current.profile && current.profile.id === profile.id && current.profile.version > profile.version) return null;
  // A good answer: the server is reachable and any one-off notice has served its purpose.
  return { ...current, profile, status: "signed_in", notice: null };
}
