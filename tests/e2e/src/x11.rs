//! The X server's own view of the app's windows (on `DISPLAY`, Xvfb under `scripts/e2e-test`). WebDriver can
//! only read a window after switching to it, and WebKit's switch may itself bring that window forward; these
//! read the display without touching any window.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, InputFocus, MapState, Window,
};
use x11rb::rust_connection::RustConnection;

struct Display {
    conn: RustConnection,
    root: Window,
    net_wm_name: Atom,
    utf8: Atom,
}

impl Display {
    fn open() -> Option<Self> {
        let (conn, screen) = x11rb::connect(None).ok()?;
        let root = conn.setup().roots.get(screen)?.root;
        let atom = |name: &[u8]| conn.intern_atom(false, name).ok()?.reply().ok().map(|reply| reply.atom);
        let (net_wm_name, utf8) = (atom(b"_NET_WM_NAME")?, atom(b"UTF8_STRING")?);
        Some(Self { conn, root, net_wm_name, utf8 })
    }

    /// The top-level windows shown on the display, with their titles.
    fn shown(&self) -> Vec<(Window, String)> {
        let Some(tree) = self.conn.query_tree(self.root).ok().and_then(|c| c.reply().ok()) else {
            return Vec::new();
        };
        tree.children
            .into_iter()
            .filter(|&window| {
                let attributes = self.conn.get_window_attributes(window).ok().and_then(|c| c.reply().ok());
                attributes.is_some_and(|a| a.map_state == MapState::VIEWABLE)
            })
            .filter_map(|window| Some((window, self.title(window)?)))
            .collect()
    }

    /// `_NET_WM_NAME`, else `WM_NAME`, if the window has a non-empty one.
    fn title(&self, window: Window) -> Option<String> {
        let read = |property: Atom, kind: Atom| {
            let reply = self.conn.get_property(false, window, property, kind, 0, 4096).ok()?.reply().ok()?;
            Some(String::from_utf8_lossy(&reply.value).into_owned()).filter(|t| !t.is_empty())
        };
        read(self.net_wm_name, self.utf8).or_else(|| read(AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))
    }
}

/// The title of the top-level window that holds the keyboard focus, walking up from the focused X window;
/// `None` when no titled window has it (or there is no display).
pub fn focused_title() -> Option<String> {
    let display = Display::open()?;
    let mut window = display.conn.get_input_focus().ok()?.reply().ok()?.focus;
    // 0 is None, 1 is PointerRoot: no window holds the focus.
    while window > 1 && window != display.root {
        if let Some(title) = display.title(window) {
            return Some(title);
        }
        window = display.conn.query_tree(window).ok()?.reply().ok()?.parent;
    }
    None
}

/// The titles of every top-level window shown on the display (what a screen-capture would show in title
/// bars and task lists).
pub fn visible_titles() -> Vec<String> {
    Display::open().map(|display| display.shown().into_iter().map(|(_, title)| title).collect()).unwrap_or_default()
}

/// Every top-level window shown on the display: (X window id, title).
pub fn shown_windows() -> Vec<(u32, String)> {
    Display::open().map(|display| display.shown()).unwrap_or_default()
}

/// Watches the display from `since` until `count` windows not in `before` (X window ids) are shown, or 30 s
/// passed: when each first appeared, and its title a second later (windows are titled after their account a
/// moment after they appear), in order of appearance. Polls every 5 ms, on the calling thread.
pub fn appearances(before: &BTreeSet<u32>, count: usize, since: Instant) -> Vec<(Duration, String)> {
    let mut first_seen: BTreeMap<u32, Duration> = BTreeMap::new();
    while first_seen.len() < count && since.elapsed() < Duration::from_secs(30) {
        for (id, _) in shown_windows() {
            if !before.contains(&id) {
                first_seen.entry(id).or_insert_with(|| since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_secs(1));
    let titles: BTreeMap<u32, String> = shown_windows().into_iter().collect();
    let mut seen: Vec<(Duration, String)> =
        first_seen.into_iter().map(|(id, at)| (at, titles.get(&id).cloned().unwrap_or_default())).collect();
    seen.sort();
    seen
}

/// Saves the whole display as a PNG in `target/e2e/<name>.png`: every window, web windows included (which
/// WebDriver's screenshot cannot take). False when there is no display or it is not 24/32-bit.
pub fn screenshot(name: &str) -> bool {
    let Some(display) = Display::open() else { return false };
    let Some(geometry) = display.conn.get_geometry(display.root).ok().and_then(|c| c.reply().ok()) else {
        return false;
    };
    let (width, height) = (geometry.width, geometry.height);
    let image =
        display.conn.get_image(x11rb::protocol::xproto::ImageFormat::Z_PIXMAP, display.root, 0, 0, width, height, !0);
    let Some(image) = image.ok().and_then(|c| c.reply().ok()) else { return false };
    if image.data.len() != usize::from(width) * usize::from(height) * 4 {
        return false;
    }
    // Z_PIXMAP at depth 24: one 32-bit pixel per point, blue, green, red, padding.
    let rgb: Vec<u8> = image.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
    let Ok(file) = std::fs::File::create(crate::artifacts_dir().join(format!("{name}.png"))) else { return false };
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), u32::from(width), u32::from(height));
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header().and_then(|mut writer| writer.write_image_data(&rgb)).is_ok()
}

/// Gives the window titled `title` the keyboard focus, as a player's click on it would (there is no window
/// manager under Xvfb to do it). False when no such window is shown.
pub fn focus(title: &str) -> bool {
    let Some(display) = Display::open() else { return false };
    let Some((window, _)) = display.shown().into_iter().find(|(_, t)| t == title) else { return false };
    let raised = display.conn.configure_window(
        window,
        &x11rb::protocol::xproto::ConfigureWindowAux::new().stack_mode(x11rb::protocol::xproto::StackMode::ABOVE),
    );
    let focused = display.conn.set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME);
    raised.is_ok() && focused.is_ok() && display.conn.flush().is_ok()
}

/// `title` when the window that has the X focus has that title.
pub fn focused(title: &str) -> Option<String> {
    focused_title().filter(|t| t == title)
}

/// Gives `title` the X keyboard focus ([`focus`]) and waits until the X server reports it, asking up to three
/// times: a window being painted can overtake the request. Panics when it never does.
pub async fn focus_and_wait(title: &str) {
    for _ in 0..3 {
        assert!(focus(title), "no window titled {title:?}: {:?}", visible_titles());
        if crate::until(Duration::from_secs(3), || focused(title)).await.is_some() {
            return;
        }
    }
    panic!("the X server did not report {title:?} focused: {:?}", focused_title());
}

/// Closes the window titled `title` as a player would ([`close`]), asking again every 2 s while it is still
/// shown: a request that comes while GTK is still setting the window up can go unanswered. Returns how many
/// requests it took; panics when the window is still there after `within`.
pub async fn close_until_gone(title: &str, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut asked = 0;
    while visible_titles().iter().any(|shown| shown == title) {
        assert!(Instant::now() < deadline, "{title:?} did not close after {asked} requests");
        assert!(close(title), "no window titled {title:?}: {:?}", visible_titles());
        asked += 1;
        let asked_at = Instant::now();
        while asked_at.elapsed() < Duration::from_secs(2) && visible_titles().iter().any(|shown| shown == title) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    asked
}

/// Asks the window titled `title` to close, as a desktop's close button does (`WM_DELETE_WINDOW`): the app
/// sees a player closing it, which WebDriver's "close window" is not. False when no such window is shown.
pub fn close(title: &str) -> bool {
    let Some(display) = Display::open() else { return false };
    let Some((window, _)) = display.shown().into_iter().find(|(_, t)| t == title) else { return false };
    let atom = |name: &[u8]| display.conn.intern_atom(false, name).ok()?.reply().ok().map(|reply| reply.atom);
    let (Some(protocols), Some(delete)) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW")) else { return false };
    let message = ClientMessageEvent::new(32, window, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
    display.conn.send_event(false, window, EventMask::NO_EVENT, message).is_ok() && display.conn.flush().is_ok()
}

/// Unmaps the window titled `title` behind the app's back, which GTK reads as the window being minimised (with
/// no window manager under Xvfb to minimise it; GDK takes an unmap it did not ask for as iconified when no
/// manager supports `_NET_WM_STATE_HIDDEN`). False when no such window is shown.
pub fn minimise(title: &str) -> bool {
    let Some(display) = Display::open() else { return false };
    let Some((window, _)) = display.shown().into_iter().find(|(_, t)| t == title) else { return false };
    display.conn.unmap_window(window).is_ok() && display.conn.flush().is_ok()
}
