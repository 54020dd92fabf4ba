// The layout check, run in the page: what a player would see as broken, read from the elements' boxes.
// Returns a list of problems, each a sentence naming the elements (by test id, class or tag) and their boxes.
//
// Looked at: the top layer only (an open panel or menu covers the rest, so what is under it is not on screen),
// and of it every visible interactive element (buttons, inputs, selects, links) and every text block (an element
// with text of its own). Checked:
//   1. no two of them overlap (unless one holds the other);
//   2. none extends past its container (the nearest ancestor that is a card, form, list item, row, header, label,
//      section or the panel) or past the viewport's width;
//   3. no word of a text is cut over two lines ("si / in"), and no text is clipped by an ellipsis or overflow;
//   4. a focused control shows a focus ring (checked by the caller focusing one; here: `outline` or `box-shadow`).
const slack = 0.75; // sub-pixel rounding
const problems = [];
const viewport = document.documentElement.clientWidth;

function describe(element) {
  const id = element.dataset && element.dataset.testid;
  if (id) return `[${id}]`;
  const text = (element.textContent || "").trim().replace(/\s+/g, " ").slice(0, 24);
  const cls = typeof element.className === "string" && element.className ? `.${element.className.split(" ")[0]}` : "";
  return `${element.tagName.toLowerCase()}${cls}${text ? ` "${text}"` : ""}`;
}

function box(rect) {
  return `(${Math.round(rect.left)},${Math.round(rect.top)} ${Math.round(rect.width)}x${Math.round(rect.height)})`;
}

function shown(element) {
  if (element.closest("[hidden]")) return false;
  const style = getComputedStyle(element);
  if (style.display === "none" || style.visibility === "hidden" || Number(style.opacity) === 0) return false;
  const rect = element.getBoundingClientRect();
  return rect.width > 0 && rect.height > 0;
}

// The top layer: an open panel, else an open menu's window, else the whole page.
const layer =
  [...document.querySelectorAll("[data-testid=accounts-panel]")].find(shown) ||
  document.getElementById("app") ||
  document.body; // the overview's page has no #app
const menus = [...layer.querySelectorAll(".menu")].filter(shown);

const interactive = "button, input, select, textarea, a[href]";
function hasOwnText(element) {
  return [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
}
const candidates = [...layer.querySelectorAll("*")].filter((element) => {
  if (!shown(element)) return false;
  // What an open menu covers is not on screen.
  if (menus.some((menu) => !menu.contains(element) && overlaps(menu.getBoundingClientRect(), element.getBoundingClientRect())))
    return false;
  return element.matches(interactive) || hasOwnText(element);
});

function overlaps(a, b) {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return width > slack && height > slack;
}

// Text blocks are measured by their text, not their box: a block element's box spans its container's width.
function contentRect(element) {
  if (element.matches(interactive)) return element.getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(element);
  const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
  if (!rects.length) return element.getBoundingClientRect();
  const left = Math.min(...rects.map((r) => r.left));
  const right = Math.max(...rects.map((r) => r.right));
  const top = Math.min(...rects.map((r) => r.top));
  const bottom = Math.max(...rects.map((r) => r.bottom));
  return { left, right, top, bottom, width: right - left, height: bottom - top };
}

// Only text that belongs to the element itself (a label's text, not the input inside it).
function ownTextRects(element) {
  const rects = [];
  for (const node of element.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    rects.push(...[...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0));
  }
  return rects;
}

const measured = candidates.map((element) => ({
  element,
  rects: element.matches(interactive) ? [element.getBoundingClientRect()] : ownTextRects(element),
}));

// 1. Overlaps.
for (let i = 0; i < measured.length; i++) {
  for (let j = i + 1; j < measured.length; j++) {
    const a = measured[i];
    const b = measured[j];
    if (a.element.contains(b.element) || b.element.contains(a.element)) continue;
    const hit = a.rects.find((ra) => b.rects.some((rb) => overlaps(ra, rb)));
    if (hit) {
      problems.push(`${describe(a.element)} ${box(hit)} overlaps ${describe(b.element)} ${box(b.rects[0])}`);
    }
  }
}

// 2. Past the container or the viewport.
const containerSelector =
  "li, form, label, header, section, .card, .row, .panel-row, .confirm, .menu, .banner, .toast, .settings, .prefs";
for (const { element, rects } of measured) {
  const rect = element.matches(interactive) ? element.getBoundingClientRect() : contentRect(element);
  if (rect.left < -slack || rect.right > viewport + slack) {
    problems.push(`${describe(element)} ${box(rect)} goes past the window's width (${viewport} px)`);
  }
  const container = element.parentElement && element.parentElement.closest(containerSelector);
  if (!container || !layer.contains(container)) continue;
  const outer = container.getBoundingClientRect();
  for (const r of rects.length ? rects : [rect]) {
    if (r.left < outer.left - slack || r.right > outer.right + slack) {
      problems.push(`${describe(element)} ${box(r)} goes past its container ${describe(container)} ${box(outer)}`);
      break;
    }
  }
}

// How wide `word` is on one line in `element`'s font: a word wider than the line it is on cannot help being cut.
const ruler = document.createElement("canvas").getContext("2d");
function unbrokenWidth(element, word) {
  const style = getComputedStyle(element);
  ruler.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const spacing = parseFloat(style.letterSpacing) || 0;
  const text = style.textTransform === "uppercase" ? word.toUpperCase() : word;
  return ruler.measureText(text).width + spacing * text.length;
}
function lineWidth(element) {
  let block = element;
  while (block && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
  if (!block) return viewport;
  const style = getComputedStyle(block);
  return block.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
}

// 3. Words cut over two lines (unless the word alone is wider than its line), and clipped text.
for (const { element } of measured) {
  for (const node of element.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE) continue;
    const text = node.textContent;
    const words = /\S+/g;
    let match;
    while ((match = words.exec(text))) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (lines.size > 1 && unbrokenWidth(element, match[0]) <= lineWidth(element) - slack) {
        problems.push(`${describe(element)}: the word "${match[0]}" is cut over ${lines.size} lines`);
      }
    }
  }
  const style = getComputedStyle(element);
  const clipped = element.scrollWidth > element.clientWidth + 1 && style.overflowX !== "visible";
  if ((style.textOverflow === "ellipsis" || clipped) && element.scrollWidth > element.clientWidth + 1 && !element.matches("input, select, textarea")) {
    problems.push(`${describe(element)}: its text is clipped (${element.scrollWidth} px in ${element.clientWidth} px)`);
  }
}

return problems;
