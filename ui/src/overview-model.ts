// The overview's own rules for its tiles (the page side of I3/I7): a tile is replaced only by an update
// carrying that tile's key, and an update for a key the overview does not show is dropped, never appended.
import type { OverviewMessage, Tile } from "./generated/contract";

/** The tiles after `message`; `flashed` gets the key of a tile whose update says something arrived. */
export function applyMessage(tiles: Tile[], message: OverviewMessage): { tiles: Tile[]; flashed: string | null } {
  switch (message.kind) {
    case "tiles":
      return { tiles: message.tiles, flashed: null };
    case "tile": {
      // Both the envelope and the tile name the account: a tile whose key is not the envelope's is not applied.
      if (message.tile.key !== message.key) return { tiles, flashed: null };
      const index = tiles.findIndex((tile) => tile.key === message.key);
      if (index < 0) return { tiles, flashed: null };
      const next = tiles.slice();
      next[index] = message.tile;
      return { tiles: next, flashed: message.flash ? message.key : null };
    }
    case "options":
      return { tiles, flashed: null };
  }
}

/** The keys in their new order after dragging `moved` onto `target`'s place. */
export function reordered(keys: string[], moved: string, target: string): string[] {
  if (moved === target || !keys.includes(moved) || !keys.includes(target)) return keys;
  const without = keys.filter((key) => key !== moved);
  const at = without.indexOf(target);
  const after = keys.indexOf(moved) < keys.indexOf(target);
  without.splice(after ? at + 1 : at, 0, moved);
  return without;
}

const STATE_WORDS: Record<Tile["state"], string> = {
  signed_in: "signed in",
  connecting: "connecting",
  offline: "offline",
  needs_sign_in: "needs sign-in",
  keychain_trouble: "keychain trouble",
  rate_limited: "waiting on a rate limit",
  hibernating: "hibernating",
  closed: "closed",
  open: "open",
};

export function stateWords(state: Tile["state"]): string {
  return STATE_WORDS[state];
}
