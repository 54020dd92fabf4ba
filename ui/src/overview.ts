// The overview window: a tile per saved account, fed only by the overview's own command and channel (never by
// another window's page). Each update replaces the tile with its key and no other (./overview-model.ts).
// A click brings that account's window forward (or opens one); dragging a tile onto another reorders the
// saved accounts, which renumbers Ctrl+1..9.
import { api, errorMessage, type OverviewMessage, type OverviewOptions, type Tile } from "./api";
import { h } from "./dom";
import { applyMessage, reordered, stateWords } from "./overview-model";

const root = document.getElementById("overview") as HTMLElement;
let tiles: Tile[] = [];
/** The element of each tile, by key, patched in place so a flash or a drag is not cut short by a rebuild. */
const shown = new Map<string, HTMLElement>();
const FLASH_MS = 1200;

function build(tile: Tile): HTMLElement {
  const element = h("button", { class: "tile", testid: "overview-tile", draggable: "true" });
  element.dataset.key = tile.key;
  element.addEventListener("click", () => {
    api.overviewActivate(tile.key).catch((e) => say(errorMessage(e)));
  });
  element.addEventListener("dragstart", (event) => {
    event.dataTransfer?.setData("text/plain", element.dataset.key ?? "");
  });
  element.addEventListener("dragover", (event) => event.preventDefault());
  element.addEventListener("drop", (event) => {
    event.preventDefault();
    const moved = event.dataTransfer?.getData("text/plain") ?? "";
    const before = tiles.map((t) => t.key);
    const keys = reordered(before, moved, element.dataset.key ?? "");
    if (keys !== before) api.overviewReorder(keys).catch((e) => say(errorMessage(e)));
  });
  return element;
}

function paint(element: HTMLElement, tile: Tile): void {
  element.dataset.state = tile.state;
  element.dataset.kind = tile.kind;
  element.setAttribute("aria-label", `${tile.name}, ${stateWords(tile.state)}`);
  const stripe = h("span", { class: "stripe" });
  stripe.style.backgroundColor = tile.colour;
  const numbers =
    tile.kind === "kage"
      ? [tile.level === null ? null : `Lv ${tile.level}`, tile.ryo === null ? null : `${tile.ryo} ryo`].filter(Boolean).join(" · ")
      : "";
  const unread = h("span", { class: "unread", testid: "tile-unread" }, tile.unread > 0 ? String(tile.unread) : "");
  unread.hidden = tile.unread === 0;
  element.replaceChildren(
    stripe,
    h("span", { class: "hotkey" }, tile.position <= 9 ? String(tile.position) : ""),
    h(
      "span",
      { class: "body" },
      h("span", { class: "name", testid: "tile-name" }, tile.name),
      h("span", { class: "state", testid: "tile-state" }, stateWords(tile.state)),
      h("span", { class: "numbers", testid: "tile-numbers" }, numbers),
    ),
    unread,
  );
  // What the tests (and a reader of the DOM) can check without parsing text.
  element.dataset.ryo = tile.ryo === null ? "" : String(tile.ryo);
  element.dataset.level = tile.level === null ? "" : String(tile.level);
}

function render(): void {
  const keys = new Set(tiles.map((t) => t.key));
  for (const key of [...shown.keys()]) if (!keys.has(key)) shown.delete(key);
  const elements = tiles.map((tile) => {
    const element = shown.get(tile.key) ?? build(tile);
    shown.set(tile.key, element);
    paint(element, tile);
    return element;
  });
  if (tiles.length === 0) root.replaceChildren(h("p", { class: "empty" }, "No saved accounts yet."));
  else root.replaceChildren(...elements);
}

function flash(key: string): void {
  const element = shown.get(key);
  if (!element) return;
  element.classList.remove("flash");
  // Restarts the animation when two arrive in a row.
  void element.offsetWidth;
  element.classList.add("flash");
  element.dataset.flashes = String(Number(element.dataset.flashes ?? "0") + 1);
  window.setTimeout(() => element.classList.remove("flash"), FLASH_MS);
}

function applyOptions(options: OverviewOptions): void {
  document.body.dataset.clickThrough = String(options.clickThrough);
  // The shell sets the window's own opacity where the desktop supports it; this is for where it does not.
  document.documentElement.style.setProperty("--overview-alpha", String(options.opacity / 100));
}

function say(text: string): void {
  document.body.dataset.notice = text;
}

function onMessage(message: OverviewMessage): void {
  if (message.kind === "options") {
    applyOptions(message.options);
    return;
  }
  const next = applyMessage(tiles, message);
  tiles = next.tiles;
  render();
  if (next.flashed) flash(next.flashed);
}

async function start(): Promise<void> {
  const snapshot = await api.overviewTiles(onMessage);
  tiles = snapshot.tiles;
  applyOptions(snapshot.options);
  render();
  root.dataset.ready = "true";
}

start().catch((e) => {
  root.textContent = `Kage could not show the overview: ${errorMessage(e)}`;
});
