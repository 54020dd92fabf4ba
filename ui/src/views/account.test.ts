// @vitest-environment happy-dom
// The account view shows numbers only from its own account's profile (issue 17, item 4).
import { describe, expect, it } from "vitest";
import { ALT, MAIN_PROFILE, windowState } from "../test/fixtures";
import type { WindowState } from "../api";
import { accountView, bannerText } from "./account";

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

describe("bannerText", () => {
  const offline = (cause: WindowState["offline"]): WindowState => ({
    ...windowState(ALT, { ...MAIN_PROFILE, id: "user-alt", username: "alt" }),
    status: "offline",
    offline: cause,
  });

  it("names the account's proxy when it is the proxy that cannot be reached", () => {
    const text = bannerText(offline({ cause: "proxy", proxy: "socks5://127.0.0.1:1080" }));
    expect(text).toMatch(/^Offline: Kage cannot reach the proxy socks5:\/\/127\.0\.0\.1:1080 for this account/);
    expect(text).toContain("Kage keeps trying");
    // In streamer mode the shell sends no address.
    expect(bannerText(offline({ cause: "proxy", proxy: "" }))).toMatch(/^Offline: Kage cannot reach the proxy for this account/);
  });

  it("tells the game server apart from this computer having no network", () => {
    expect(bannerText(offline({ cause: "game_server" }))).toMatch(/^Offline: the game server does not answer/);
    expect(bannerText(offline({ cause: "no_network" }))).toMatch(/^Offline: this computer has no network connection/);
    expect(bannerText(offline(null))).toMatch(/^Offline\. Showing data from/);
    const blocked = offline({ cause: "proxy_not_usable", reason: "That proxy cannot be used. Kage sends nothing for this account until you fix its proxy." });
    expect(bannerText(blocked)).toMatch(/^Offline: That proxy cannot be used\. Kage sends nothing/);
  });
});
