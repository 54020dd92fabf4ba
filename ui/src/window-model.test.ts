// The page's own I3 rules (issue 17, item 4): a window never combines two accounts' data, and drops every
// message about an account it does not show.
import { describe, expect, it } from "vitest";
import { ALT, MAIN, MAIN_PROFILE, profile, windowState } from "./test/fixtures";
import { isMine, merge, withProfile } from "./window-model";

describe("isMine", () => {
  it("drops a message about another account", () => {
    const onMain = windowState(MAIN, MAIN_PROFILE);
    expect(isMine(onMain, MAIN.id)).toBe(true);
    expect(isMine(onMain, ALT.id)).toBe(false);
    expect(isMine(windowState(null, null), MAIN.id)).toBe(false);
  });
});

describe("merge", () => {
  it("i3_a_window_switching_to_an_uncached_account_never_keeps_the_previous_accounts_profile", () => {
    // Main is on screen; the shell then says the window shows alt, of whom nothing is cached yet (the race:
    // a status update for main crossed the switch, or a repaint read the new state).
    const shown = merge(windowState(MAIN, MAIN_PROFILE), windowState(ALT, null));
    expect(shown.account?.id).toBe(ALT.id);
    expect(shown.profile).toBeNull();
  });

  it("keeps the profile on screen for the same account when the shell sends none", () => {
    const shown = merge(windowState(MAIN, MAIN_PROFILE), { ...windowState(MAIN, null), status: "offline" });
    expect(shown.profile).toEqual(MAIN_PROFILE);
    expect(shown.status).toBe("offline");
  });

  it("keeps a notice only for the same account", () => {
    const withNotice = { ...windowState(MAIN, MAIN_PROFILE), notice: "Saved." };
    expect(merge(withNotice, windowState(MAIN, null)).notice).toBe("Saved.");
    expect(merge(withNotice, windowState(ALT, null)).notice).toBeNull();
  });
});

describe("withProfile", () => {
  it("i3_a_profile_answer_for_another_account_is_not_shown", () => {
    const onAlt = windowState(ALT, null);
    expect(withProfile(onAlt, { account: MAIN.id, profile: MAIN_PROFILE })).toBeNull();
  });

  it("never lets an older copy replace a newer one", () => {
    const newer = windowState(MAIN, profile("user-main", "main", 900, 5));
    expect(withProfile(newer, { account: MAIN.id, profile: profile("user-main", "main", 1000, 4) })).toBeNull();
    const next = withProfile(newer, { account: MAIN.id, profile: profile("user-main", "main", 800, 6) });
    expect(next?.profile?.ryo).toBe(800);
  });
});
