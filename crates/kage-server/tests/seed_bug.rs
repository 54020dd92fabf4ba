//! The bug Kage exists to make impossible, played against the reference server's browser path, then stopped.
//!
//! A player signs into their main in one browser tab and their alt in another. Both tabs share one cookie jar,
//! and the server's session cookie names whichever account signed in last. The main's tab refetches its
//! profile in the background (a poll, or after a push): the cookie answers as the alt, the answer goes into a
//! cache whose key has no account in it, and the main's tab now shows the alt. Mutations take the same path, so
//! a transfer "from the main" moves the alt's ryo ("characters teleport to each other").
//!
//! The fix has three layers, each tested here on its own: every tab sends its own bearer token; every request
//! names the viewer it expects and the server refuses a mismatch; and a tab that cannot get its own token says
//! so with a marker, and the server then refuses to fall back to the cookie. The web fix was reverted because it
//! sent `Bearer null` while its auth library loaded and told signed-in players they were signed out; the last
//! test shows why Kage never sends a request without its own token (DESIGN.md, I11).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The browser's one cookie jar, shared by every tab: the state at the heart of the bug.
#[derive(Clone, Default)]
struct CookieJar(Arc<Mutex<Option<String>>>);

impl CookieJar {
    fn absorb(&self, response: &reqwest::Response) {
        let set_cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok());
        if let Some(value) = set_cookie.and_then(|c| c.split(';').next()).and_then(|c| c.strip_prefix("__session=")) {
            *self.0.lock().unwrap() = Some(value.to_owned());
        }
    }

    fn header(&self) -> Option<String> {
        self.0.lock().unwrap().as_ref().map(|value| format!("__session={value}"))
    }
}

/// A browser tab: it always sends the shared cookie, and whatever else its code adds.
struct Tab {
    base: String,
    jar: CookieJar,
    http: reqwest::Client,
    /// Layer 1 of the fix: this tab's own bearer token.
    bearer: Option<String>,
    /// Layer 3: "I could not get my own token; do not answer me from the cookie".
    fail_closed_marker: bool,
}

impl Tab {
    fn new(base: &str, jar: &CookieJar) -> Self {
        Self {
            base: base.into(),
            jar: jar.clone(),
            http: reqwest::Client::new(),
            bearer: None,
            fail_closed_marker: false,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = self.jar.header() {
            request = request.header("cookie", cookie);
        }
        if let Some(token) = &self.bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if self.fail_closed_marker {
            request = request.header("x-kage-auth-required", "1");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        self.jar.absorb(&response);
        response
    }

    async fn browser_sign_in(&self, username: &str) -> String {
        let body = json!({"username": username, "password": format!("{username}-password")});
        let response = self.send(Method::POST, "/v1/browser/sessions", Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["user_id"].as_str().unwrap().to_owned()
    }

    async fn own_token_sign_in(&mut self, username: &str) -> String {
        let body = json!({"username": username, "password": format!("{username}-password")});
        let grant: Value = self.send(Method::POST, "/v1/sessions", Some(body)).await.json().await.unwrap();
        self.bearer = Some(grant["access_token"].as_str().unwrap().to_owned());
        grant["user_id"].as_str().unwrap().to_owned()
    }

    /// The background refetch of "my" profile.
    async fn refetch_profile(&self, viewer_id: Option<&str>) -> reqwest::Response {
        let path = match viewer_id {
            Some(id) => format!("/v1/viewer?viewer_id={id}"),
            None => "/v1/viewer".to_owned(),
        };
        self.send(Method::GET, &path, None).await
    }
}

/// The web client's cache: one key for "the viewer", whoever that is. The second half of the bug.
#[derive(Default)]
struct ProfileCacheWithoutAccount(HashMap<&'static str, Value>);

async fn server() -> (kage_server::RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(dir.path());
    config.demo = true;
    (kage_server::start(config).await.unwrap(), dir)
}

/// Balances straight from the server, each read with its owner's own token (not through any tab).
async fn balances(base: &str) -> (i64, i64) {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for name in ["main", "alt"] {
        let grant: Value = http
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"username": name, "password": format!("{name}-password")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = grant["access_token"].as_str().unwrap();
        let profile: Value =
            http.get(format!("{base}/v1/viewer")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        out.push(profile["ryo"].as_i64().unwrap());
    }
    (out[0], out[1])
}

#[tokio::test]
async fn seed_bug_1_two_tabs_share_one_cookie_and_mains_tab_is_answered_with_alts_profile() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let mut main_tab_cache = ProfileCacheWithoutAccount::default();

    main_tab.browser_sign_in("main").await;
    let first: Value = main_tab.refetch_profile(None).await.json().await.unwrap();
    main_tab_cache.0.insert("viewer", first);
    assert_eq!(main_tab_cache.0["viewer"]["username"], "main");

    // The player opens the alt in another tab: the shared cookie now names the alt.
    alt_tab.browser_sign_in("alt").await;

    // main's tab refetches in the background and caches the answer under "viewer".
    let refetched: Value = main_tab.refetch_profile(None).await.json().await.unwrap();
    main_tab_cache.0.insert("viewer", refetched);
    assert_eq!(main_tab_cache.0["viewer"]["username"], "alt", "the bug: main's tab now shows the alt");
}

#[tokio::test]
async fn seed_bug_2_a_mutation_from_mains_tab_moves_alts_ryo() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let signed_up =
        main_tab.send(Method::POST, "/v1/sign-up", Some(json!({"username": "friend", "password": "friend-password"})));
    assert_eq!(signed_up.await.status(), StatusCode::CREATED);
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await;
    let (main_before, alt_before) = balances(&server.base_url()).await;

    // The player, in main's tab, sends a friend 10 ryo. The cookie says alt: the alt pays.
    let response = main_tab.send(Method::POST, "/v1/transfers", Some(json!({"to": "friend", "amount": 10}))).await;
    assert_eq!(response.status(), StatusCode::OK, "the server took the cookie's word for it");
    let (main_after, alt_after) = balances(&server.base_url()).await;
    assert_eq!((main_after, alt_after), (main_before, alt_before - 10), "the alt's ryo moved, not the main's");
}

#[tokio::test]
async fn fix_layer_1_per_tab_bearer_tokens_answer_each_tab_with_its_own_account() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (mut main_tab, mut alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    main_tab.browser_sign_in("main").await;
    let main_id = main_tab.own_token_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await; // the shared cookie still says alt
    let alt_id = alt_tab.own_token_sign_in("alt").await;

    // A cache keyed by account, fed by requests that each carry their tab's own token.
    let mut cache: HashMap<String, Value> = HashMap::new();
    for _ in 0..3 {
        for tab in [&main_tab, &alt_tab] {
            let profile: Value = tab.refetch_profile(None).await.json().await.unwrap();
            cache.insert(profile["id"].as_str().unwrap().to_owned(), profile);
        }
    }
    assert_eq!(cache[&main_id]["username"], "main");
    assert_eq!(cache[&alt_id]["username"], "alt");
}

#[tokio::test]
async fn fix_layer_2_viewer_guard_rejects_a_request_that_names_another_viewer() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (mut main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let main_id = main_tab.own_token_sign_in("main").await;
    main_tab.bearer = None; // lost its token; only the shared cookie is left
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await;
    let before = balances(&server.base_url()).await;

    // main's tab says whom it expects; the cookie authenticates the alt: refused, nothing to cache.
    let response = main_tab.refetch_profile(Some(&main_id)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "viewer_mismatch");

    // Mutations are guarded the same way: nothing moves.
    let body = json!({"viewer_id": main_id, "to": "main", "amount": 10});
    let response = main_tab.send(Method::POST, "/v1/transfers", Some(body)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(balances(&server.base_url()).await, before, "no ryo moved");
}

#[tokio::test]
async fn fix_layer_3_fail_closed_marker_refuses_the_cookie_fallback() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (mut main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await;

    // main's tab could not get its own token, and says so: the server must not answer from the cookie.
    main_tab.fail_closed_marker = true;
    let response = main_tab.refetch_profile(None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unauthenticated");

    // Control: without the marker the same request is answered, as the alt.
    main_tab.fail_closed_marker = false;
    let profile: Value = main_tab.refetch_profile(None).await.json().await.unwrap();
    assert_eq!(profile["username"], "alt");
}

/// The web fix was reverted because, while its auth library was still loading, it sent `Authorization: Bearer
/// null` and then told signed-in players they were signed out. The server is right to refuse that request
/// (and never to fall back to the cookie for it); the mistake was sending it. Kage's client waits, bounded,
/// for its own token and shows "loading", and says "signed out" only when the server rejected the account's
/// refresh credential or the player signed out (I11).
#[tokio::test]
async fn fix_reverted_because_of_false_sign_out_kage_never_sends_bearer_null() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let mut main_tab = Tab::new(&server.base_url(), &jar);
    main_tab.browser_sign_in("main").await;
    main_tab.bearer = Some("null".into());
    let response = main_tab.refetch_profile(None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_token", "no cookie fallback either");
}
