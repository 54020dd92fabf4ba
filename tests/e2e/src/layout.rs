//! The layout check (issue 18): each screen of the real app, at the widths windows are given (320 px, the
//! minimum; 460 px, the default; 800 px) and at 200% text, measured in the page by `layout.js` from the
//! elements' boxes. A screenshot of every screen, width and scale is kept in `target/e2e/layout/`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{App, artifacts_dir};

/// The check itself, run in the page (see its header for what it looks at).
const CHECK: &str = include_str!("layout.js");

/// The widths every screen is checked at: the minimum a window allows, the default, and a wide one.
pub const WIDTHS: [u32; 3] = [320, 460, 800];

/// Text sizes every screen is checked at: as set, and doubled (a player's 200% text scaling).
pub const TEXT_SCALES: [u32; 2] = [100, 200];

/// What the check found wrong on the current window's screen, as sentences.
pub async fn problems(app: &App) -> Vec<String> {
    let found = app.client.execute(CHECK, vec![]).await.expect("the layout check runs");
    found
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Gives the current window `width` CSS pixels of page (the window's frame and any scroll bar aside) and text at
/// `scale` percent, and waits for the page to lay itself out again. Returns the width the page got.
pub async fn size(app: &App, width: u32, scale: u32) -> u64 {
    let mut asked = width;
    let mut got = 0;
    // The window manager may add a frame: ask again until the page itself is `width` wide (or as near as it gets).
    for _ in 0..4 {
        app.client.set_window_size(asked, 720).await.expect("resize the window");
        tokio::time::sleep(Duration::from_millis(300)).await;
        got = app.client.execute("return window.innerWidth", vec![]).await.ok().and_then(|v| v.as_u64()).unwrap_or(0);
        if got == u64::from(width) || got == 0 {
            break;
        }
        asked = (i64::from(asked) + i64::from(width) - got as i64).max(1) as u32;
    }
    // Text scaling: every size in the page's style sheet is in rem or em of the root's font size.
    let script = "document.documentElement.style.fontSize = arguments[0]; \
                  const done = arguments[1]; requestAnimationFrame(() => setTimeout(done, 150));";
    let font = if scale == 100 { String::new() } else { format!("{}px", 15 * scale / 100) };
    let _ = app.client.execute_async(script, vec![json!(font)]).await;
    got
}

/// Checks the current window's screen at every width and text scale, keeping a screenshot of each. Returns the
/// problems found, each prefixed with the screen, width and scale it was seen at.
pub async fn check_screen(app: &App, screen: &str) -> Vec<String> {
    std::fs::create_dir_all(artifacts_dir().join("layout")).expect("target/e2e/layout");
    let mut found = Vec::new();
    for width in WIDTHS {
        for scale in TEXT_SCALES {
            let got = size(app, width, scale).await;
            let name = format!("layout/{screen}-{width}px-{scale}pct");
            app.screenshot(&name).await;
            for problem in problems(app).await {
                found.push(format!("{screen} at {width} px ({got} px wide), text {scale}%: {problem}"));
            }
        }
    }
    size(app, 460, 100).await;
    found
}

/// Moves the keyboard focus with Tab through the current screen and returns the controls that got the focus
/// without a visible focus ring. The ring is read from the style sheet's `:focus` and `:focus-visible` rules
/// that apply to the focused control: under Xvfb with no window manager the window may never hold the X input
/// focus, and then WebKit applies no `:focus` style at all.
pub async fn focus_without_ring(app: &App, tabs: usize) -> Vec<String> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    const RING: &str = r#"
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        const ringIn = (style) => (style.outlineStyle && style.outlineStyle !== "none" && style.outlineWidth !== "0px")
            || (style.outline && !/^(none|0px)/.test(style.outline))
            || (style.boxShadow && style.boxShadow !== "none");
        if (e.matches(":focus") && ringIn(getComputedStyle(e))) return "";
        for (const sheet of document.styleSheets) {
            for (const rule of sheet.cssRules) {
                if (!rule.selectorText || !rule.selectorText.includes(":focus")) continue;
                for (const selector of rule.selectorText.split(",")) {
                    const plain = selector.replace(/:focus(-visible|-within)?/g, "").trim() || "*";
                    try { if (e.matches(plain) && ringIn(rule.style)) return ""; } catch (_) {}
                }
            }
        }
        return e.dataset.testid || (e.tagName.toLowerCase() + " " + (e.textContent || "").trim().slice(0, 20));
    "#;
    let mut unseen = Vec::new();
    for _ in 0..tabs {
        let press = KeyActions::new("tab".into())
            .then(KeyAction::Down { value: Key::Tab.into() })
            .then(KeyAction::Up { value: Key::Tab.into() });
        let _ = app.client.perform_actions(press).await;
        if let Ok(Value::String(name)) = app.client.execute(RING, vec![]).await
            && !name.is_empty()
        {
            unseen.push(name);
        }
    }
    unseen
}
