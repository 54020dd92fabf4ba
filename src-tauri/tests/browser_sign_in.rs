//! "Sign in with browser" as the page calls it, on the mock runtime, against a real identity provider (npm
//! `oidc-provider`, tests/oidc-provider) trusted by a real kage-server. The "system browser" is a scripted one
//! that fills in the provider's own login pages and keeps its cookies, like a browser keeps its session.

mod support;

use std::sync::{Arc, Mutex};

use kage_app::state::OpenBrowser;
use kage_core::vault::MemoryStore;
use kage_oidc_support::{ALT, Account, Browser, CLIENT_ID, MAIN, ProviderOptions, TestProvider};
use serde_json::json;

use support::{TestApp, invoke};

/// The player at the provider's pages: signs in as whoever `next` says, in one browser with one cookie jar.
struct ScriptedBrowser {
    browser: Arc<Browser>,
    next: Mutex<Account>,
    runtime: tokio::runtime::Handle,
}

impl ScriptedBrowser {
    fn signs_in_as(&self, account: Account) {
        *self.next.lock().unwrap() = account;
    }
}

impl OpenBrowser for ScriptedBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        let (browser, url, login) = (self.browser.clone(), url.to_owned(), self.next.lock().unwrap().credentials());
        self.runtime.spawn(async move {
            if let Err(error) = browser.authorize_and_deliver(&url, Some(&login)).await {
                eprintln!("the scripted browser stopped: {error}");
            }
        });
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn i3_each_window_signs_in_through_the_browser_as_its_own_player_and_a_browser_answering_as_main_is_refused_for_alt()
 {
    // The game API's audience is the server's own origin: Kage asks for no other (issue 17, item 2).
    let listen = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let audience = format!("http://{listen}");
    let options = ProviderOptions { audiences: vec![audience.clone()], ..Default::default() };
    let Some(provider) = TestProvider::start_or_skip(options).await else { return };
    let server_dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(server_dir.path());
    config.listen = listen;
    config.oidc = Some(kage_server::oidc::OidcConfig::new(provider.issuer(), &audience, CLIENT_ID));
    let server = kage_server::start(config).await.expect("server starts");
    let url = server.base_url();

    let browser = Arc::new(ScriptedBrowser {
        browser: Arc::new(Browser::new()),
        next: Mutex::new(MAIN),
        runtime: tokio::runtime::Handle::current(),
    });
    let vault = Arc::new(MemoryStore::default());
    let app =
        TestApp::start_with_browser(Some(&url), tempfile::tempdir().unwrap(), vault.clone(), Some(browser.clone()))
            .await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let info = invoke(&first, "server_info", json!({})).unwrap();
    assert_eq!((info["browserSignIn"].as_bool(), info["passwordSignIn"].as_bool()), (Some(true), Some(true)));

    let main = invoke(&first, "sign_in_browser", json!({"remember": true})).unwrap();
    assert_eq!((main["account"]["username"].as_str(), main["status"].as_str()), (Some("main"), Some("signed_in")));
    // The browser is still signed in to the provider as main: the second window must not become main (I3).
    browser.signs_in_as(ALT);
    let alt = invoke(&second, "sign_in_browser", json!({"remember": true})).unwrap();
    assert_eq!(alt["account"]["username"], "alt", "{alt}");
    for (window, name) in [(&first, "main"), (&second, "alt"), (&first, "main")] {
        let answer = invoke(window, "refresh_profile", json!({})).unwrap();
        assert_eq!(answer["profile"]["username"], name, "each window's requests carry its own provider token");
    }

    // Alt signs out; signing that window in again while the browser answers as main is refused, by name.
    invoke(&second, "sign_out", json!({})).unwrap();
    browser.signs_in_as(MAIN);
    let refused = invoke(&second, "sign_in_browser", json!({"remember": true})).unwrap_err();
    assert_eq!(refused["code"], "other_account", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("You signed in as main in the browser; this window is for alt")
    );
    let state = invoke(&second, "window_state", json!({})).unwrap();
    assert_eq!((state["account"]["username"].as_str(), state["status"].as_str()), (Some("alt"), Some("signed_out")));

    // The same in streamer mode (issue 17, low): the sentence names aliases, never a username.
    let settings =
        |alias: &str| json!({"alias": alias, "colour": "#3f8efc", "notifications": true, "groups": [], "proxy": null});
    invoke(&first, "update_account", json!({"accountId": main["account"]["id"], "settings": settings("Shadow")}))
        .unwrap();
    invoke(&first, "update_account", json!({"accountId": alt["account"]["id"], "settings": settings("Scout")}))
        .unwrap();
    let mut prefs = invoke(&first, "prefs", json!({})).unwrap();
    prefs["streamerMode"] = json!(true);
    invoke(&first, "set_prefs", json!({ "prefs": prefs })).unwrap();
    let refused = invoke(&second, "sign_in_browser", json!({"remember": true})).unwrap_err();
    let sentence = refused["message"].as_str().unwrap();
    assert_eq!(refused["code"], "other_account", "{refused}");
    // The provider's answer names a provider identity, not yet a saved account: "another account".
    assert!(sentence.contains("this window is for Scout"), "named by alias: {sentence}");
    assert!(!sentence.contains("main") && !sentence.contains("alt"), "no username on stream: {sentence}");
    prefs["streamerMode"] = json!(false);
    invoke(&first, "set_prefs", json!({ "prefs": prefs })).unwrap();

    // A new start: main reopens from the keychain, refreshed at the provider, with no browser at all.
    let main_id = main["account"]["id"].as_str().unwrap().to_owned();
    let dir = app.quit_remote().await;
    let app = TestApp::start_against(Some(&url), dir, vault).await;
    let window = app.window("acct-1");
    invoke(&window, "open_saved", json!({"accountId": main_id})).unwrap();
    assert_eq!(invoke(&window, "refresh_profile", json!({})).unwrap()["profile"]["username"], "main");
}
