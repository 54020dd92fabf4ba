// An account's sessions on its server, in the accounts panel (issue 17, item 3): this computer's, the ones
// exported from it (each export is a session of its own), and any other (another computer, the game's site).
// The player can end one, or every one but this computer's. Asked of the shell when opened, never kept.
import { api, errorMessage, type AccountSession } from "../api";
import { busy, h } from "../dom";

const RELATION_TEXT: Record<AccountSession["relation"], string> = {
  current: "This computer",
  fork: "Exported from this computer",
  other: "Another computer or app",
};

function when(rfc3339: string): string {
  const at = new Date(rfc3339);
  return Number.isNaN(at.getTime()) ? rfc3339 : at.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export interface SessionsList {
  element: HTMLElement;
  /** Asks the shell for the account's sessions and shows them. */
  load: () => Promise<void>;
}

export function sessionsList(accountId: () => string, say: (text: string | null, warn?: boolean) => void): SessionsList {
  const list = h("ul", { class: "sessions", testid: "sessions-list" });
  const endOthers = h("button", { class: "small ghost danger", testid: "sessions-end-others" }, "End all but this computer");
  const element = h(
    "section",
    { class: "sessions-box", testid: "account-sessions" },
    h("h3", {}, "Sessions"),
    list,
    h("div", { class: "row" }, endOthers),
  );

  const show = (sessions: AccountSession[]) => {
    list.replaceChildren(
      ...sessions.map((session) => {
        const end = h("button", { class: "small ghost", testid: "session-end" }, "End");
        end.hidden = session.relation === "current";
        end.addEventListener("click", () =>
          busy(end, async () => {
            try {
              show(await api.endAccountSession(accountId(), session.id));
              say("That session has ended.");
            } catch (e) {
              say(errorMessage(e), true);
            }
          }),
        );
        const kind = session.kind === "browser" ? "the game's web site" : "an app";
        return h(
          "li",
          { testid: "session", "data-relation": session.relation },
          h(
            "div",
            { class: "who" },
            h("strong", {}, RELATION_TEXT[session.relation]),
            h("span", { class: "muted small-text" }, `Signed in with ${kind} on ${when(session.created_at)}; last used ${when(session.last_used_at)}`),
          ),
          h("div", { class: "actions" }, end),
        );
      }),
    );
    endOthers.hidden = !sessions.some((session) => session.relation !== "current");
  };

  endOthers.addEventListener("click", () =>
    busy(endOthers, async () => {
      try {
        show(await api.endOtherSessions(accountId()));
        say("Every other session of this account has ended.");
      } catch (e) {
        say(errorMessage(e), true);
      }
    }),
  );

  const load = async () => {
    list.replaceChildren(h("li", { class: "muted small-text" }, "Asking the game server…"));
    try {
      show(await api.accountSessions(accountId()));
    } catch (e) {
      list.replaceChildren(h("li", { class: "muted small-text", testid: "sessions-error" }, errorMessage(e)));
      endOthers.hidden = true;
    }
  };
  return { element, load };
}
