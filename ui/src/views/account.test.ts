// @vitest-environment happy-dom
// The account view shows numbers only from its own account's profile (issue 17, item 4).
import { describe, expect, it } from "vitest";
import { ALT, MAIN_PROFILE, windowState } from "../test/fixtures";
import { accountView } from "./account";

const text = (root: HTMLElement, testid: string) => root.querySelector(`[data-testid="${testid}"]`)?.textContent ?? null;

function viewOf(account = ALT) {
  return accountView({ account, onState: () => undefined, onProfile: () => undefined, onPanel: () => undefined });
}

describe("accountView", () => {
  it("i3_a_view_with_no_profile_shows_no_numbers", () => {
    const view = viewOf();
    view.update(windowState(ALT, null));
    for (const field of ["profile-level", "profile-village", "profile-ryo"]) {
      expect(text(view.element, field)).toBe("…");
    }
    expect(text(view.element, "profile-username")).toBe("alt");
    expect(view.element.textContent).not.toMatch(/\d/);
  });

  it("clears what it showed when its profile goes away", () => {
    const view = viewOf();
    view.update(windowState(ALT, { ...MAIN_PROFILE, id: "user-alt", username: "alt", ryo: 250 }));
    expect(text(view.element, "profile-ryo")).toBe("250");
    view.update(windowState(ALT, null));
    expect(text(view.element, "profile-ryo")).toBe("…");
    expect(view.element.querySelectorAll(".stats dd")).toHaveLength(0);
  });
});
