// The overview page's tile rules: an update replaces only the tile with its key (I3/I7 for the overview).
import { describe, expect, it } from "vitest";
import type { Tile } from "./generated/contract";
import { applyMessage, reordered } from "./overview-model";

function tile(key: string, ryo: number | null): Tile {
  return { key, kind: "kage", position: 1, name: key, colour: "#3f8efc", state: "signed_in", level: 2, ryo, unread: 0 };
}

describe("applyMessage", () => {
  it("replaces only the tile whose key the update carries, and flashes it", () => {
    const tiles = [tile("main", 100), tile("alt", 50)];
    const { tiles: next, flashed } = applyMessage(tiles, { kind: "tile", key: "alt", tile: tile("alt", 75), flash: true });
    expect(next.map((t) => t.ryo)).toEqual([100, 75]);
    expect(flashed).toBe("alt");
  });

  it("drops an update whose tile is another account's, or for a key it does not show", () => {
    const tiles = [tile("main", 100), tile("alt", 50)];
    const crossed = applyMessage(tiles, { kind: "tile", key: "main", tile: tile("alt", 75), flash: true });
    expect(crossed.tiles).toBe(tiles);
    expect(crossed.flashed).toBeNull();
    const stranger = applyMessage(tiles, { kind: "tile", key: "third", tile: tile("third", 1), flash: false });
    expect(stranger.tiles).toBe(tiles);
  });
});

describe("reordered", () => {
  it("moves a dragged key onto the target's place, either way", () => {
    expect(reordered(["a", "b", "c"], "a", "c")).toEqual(["b", "c", "a"]);
    expect(reordered(["a", "b", "c"], "c", "a")).toEqual(["c", "a", "b"]);
    expect(reordered(["a", "b"], "a", "x")).toEqual(["a", "b"]);
  });
});
