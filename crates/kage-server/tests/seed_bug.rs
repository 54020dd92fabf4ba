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
//! test shows why Kage never sends a request without its own token (docs/design.md, I11).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// The browser's one cookie jar, shared by every tab: the state at the heart of the bug. It holds the value of
/// the `__session` cookie, takes every `Set-Cookie` any tab receives, and gives it to every request any tab sends.
#[derive(Clone, Default)]
struct CookieJar(Arc<Mutex<Option<String>>>);

impl CookieJar {
    fn absorb(&self, response: &Response) {
        let set_cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok());
        if let Some(value) = set_cookie.and_then(|c| c.split(';').next()).and_then(|c| c.strip_prefix("__session=")) {
            *self.0.lock().unwrap() = Some(value.to_owned());
        }
    }

    fn cookie_header(&self) -> Option<String> {
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
        // reqwest without a cookie store: the only cookie a tab sends is the one in the shared jar.
        Self {
            base: base.into(),
            jar: jar.clone(),
            http: reqwest::Client::new(),
            bearer: None,
            fail_closed_marker: false,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = self.jar.cookie_header() {
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

    /// The web client's sign-in: the server answers with a `__session` cookie, which lands in the shared jar.
    /// Returns the signed-in player's id.
    async fn browser_sign_in(&self, username: &str) -> String {
        let body = json!({"username": username, "password": format!("{username}-password")});
        let response = self.send(Method::POST, "/v1/browser/sessions", Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "browser sign-in of {username}");
        json_of(response).await["user_id"].as_str().unwrap().to_owned()
    }

    /// Layer 1: the tab gets a session of its own and keeps its access token. Returns the player's id.
    async fn own_token_sign_in(&mut self, username: &str) -> String {
        let body = json!({"username": username, "password": format!("{username}-password")});
        let response = self.send(Method::POST, "/v1/sessions", Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "token sign-in of {username}");
        let grant = json_of(response).await;
        self.bearer = Some(grant["access_token"].as_str().unwrap().to_owned());
        grant["user_id"].as_str().unwrap().to_owned()
    }

    /// The background refetch of "my" profile, optionally naming whom "my" is (layer 2).
    async fn refetch_profile(&self, viewer_id: Option<&str>) -> Response {
        let path = match viewer_id {
            Some(id) => format!("/v1/viewer?viewer_id={id}"),
            None => "/v1/viewer".to_owned(),
        };
        self.send(Method::GET, &path, None).await
    }
}

/// The web client's cache: one key for "the viewer", whoever that is, and it never goes stale. The second half
/// of the bug: whatever answer arrives last is what the tab shows.
#[derive(Default)]
struct ProfileCacheWithoutAccount(HashMap<&'static str, Value>);

impl ProfileCacheWithoutAccount {
    /// Stores a successful answer under "viewer", as the web client did; anything else is not cached.
    /// Returns the answer's body either way.
    async fn store(&mut self, response: Response) -> Value {
        let ok = response.status() == StatusCode::OK;
        let body = json_of(response).await;
        if ok {
            self.0.insert("viewer", body.clone());
        }
        body
    }

    /// The username the tab shows, if any.
    fn shown_username(&self) -> Option<&str> {
        self.0.get("viewer").and_then(|profile| profile["username"].as_str())
    }

    fn shown_id(&self) -> Option<&str> {
        self.0.get("viewer").and_then(|profile| profile["id"].as_str())
    }
}

async fn json_of(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
}

/// Asserts a JSON error answer's status and `error` code.
async fn assert_refused(response: Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "expected {status} {code}");
    assert_eq!(json_of(response).await["error"], code);
}

/// A real server with the demo players `main` (1000 ryo) and `alt` (250 ryo); keep the dir alive with it.
async fn server() -> (kage_server::RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(dir.path());
    config.demo = true;
    (kage_server::start(config).await.unwrap(), dir)
}

/// Both players' profiles straight from the server, each read with its owner's own token (not through any tab).
async fn profiles(base: &str) -> (Value, Value) {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for name in ["main", "alt"] {
        let sign_in = http
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"username": name, "password": format!("{name}-password")}));
        let grant = json_of(sign_in.send().await.unwrap()).await;
        let token = grant["access_token"].as_str().unwrap();
        let profile = json_of(http.get(format!("{base}/v1/viewer")).bearer_auth(token).send().await.unwrap()).await;
        assert_eq!(profile["username"], name);
        out.push(profile);
    }
    let alt = out.pop().unwrap();
    (out.pop().unwrap(), alt)
}

/// (main's ryo, alt's ryo), read as above.
async fn balances(base: &str) -> (i64, i64) {
    let (main, alt) = profiles(base).await;
    (main["ryo"].as_i64().unwrap(), alt["ryo"].as_i64().unwrap())
}

#[tokio::test]
async fn seed_bug_1_two_tabs_share_one_cookie_and_mains_tab_is_answered_with_alts_profile() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let mut main_tab_cache = ProfileCacheWithoutAccount::default();

    let main_id = main_tab.browser_sign_in("main").await;
    main_tab_cache.store(main_tab.refetch_profile(None).await).await;
    assert_eq!(main_tab_cache.shown_username(), Some("main"), "before the alt signs in, all is well");

    // The player opens the alt in another tab: the one shared cookie now names the alt.
    let alt_id = alt_tab.browser_sign_in("alt").await;
    assert_ne!(main_id, alt_id);

    // main's tab refetches in the background, with nothing but the cookie, and caches the answer under "viewer".
    let refetch = main_tab.refetch_profile(None).await;
    assert_eq!(refetch.status(), StatusCode::OK, "the server answers a cookie-only request");
    main_tab_cache.store(refetch).await;
    assert_eq!(main_tab_cache.shown_username(), Some("alt"), "the bug: main's tab now shows the alt");
    assert_eq!(main_tab_cache.shown_id(), Some(alt_id.as_str()), "the alt's account, not just its name");
}

#[tokio::test]
async fn seed_bug_2_a_mutation_from_mains_tab_moves_alts_ryo() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let friend = json!({"username": "friend", "password": "friend-password"});
    assert_eq!(main_tab.send(Method::POST, "/v1/sign-up", Some(friend)).await.status(), StatusCode::CREATED);
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await;
    let (main_before, alt_before) = balances(&server.base_url()).await;
    assert_eq!((main_before, alt_before), (1000, 250), "the demo balances");

    // The player, in main's tab, sends a friend 10 ryo. The cookie says alt: the alt pays.
    let response = main_tab.send(Method::POST, "/v1/transfers", Some(json!({"to": "friend", "amount": 10}))).await;
    assert_eq!(response.status(), StatusCode::OK, "the server took the cookie's word for it");
    assert_eq!(json_of(response).await["username"], "alt", "the answer is the sender's profile: the alt's");
    assert_eq!(balances(&server.base_url()).await, (1000, 240), "the alt's ryo moved, not the main's");

    // The same for training: main's tab trains, the alt gets stronger.
    let (main_before, alt_before) = profiles(&server.base_url()).await;
    let response = main_tab.send(Method::POST, "/v1/viewer/train", Some(json!({"stat": "strength"}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (main_after, alt_after) = profiles(&server.base_url()).await;
    assert_eq!(main_after["stats"], main_before["stats"], "main did not train");
    assert_eq!(alt_after["stats"]["strength"], alt_before["stats"]["strength"].as_i64().unwrap() + 1, "alt did");
}

#[tokio::test]
async fn fix_layer_1_per_tab_bearer_tokens_answer_each_tab_with_its_own_account() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (mut main_tab, mut alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await; // the shared cookie says alt, and every request below still carries it
    let main_id = main_tab.own_token_sign_in("main").await;
    let alt_id = alt_tab.own_token_sign_in("alt").await;
    assert!(jar.cookie_header().is_some());

    // A cache keyed by account, fed by requests that each carry their tab's own token, polled in turn.
    let mut cache_by_account: HashMap<String, Value> = HashMap::new();
    for _ in 0..3 {
        for (tab, expected) in [(&main_tab, "main"), (&alt_tab, "alt")] {
            let profile = json_of(tab.refetch_profile(None).await).await;
            assert_eq!(profile["username"], expected, "each tab is answered as its own account");
            cache_by_account.insert(profile["id"].as_str().unwrap().to_owned(), profile);
        }
    }
    assert_eq!(cache_by_account.len(), 2);
    assert_eq!(cache_by_account[&main_id]["username"], "main");
    assert_eq!(cache_by_account[&alt_id]["username"], "alt");
}

#[tokio::test]
async fn fix_layer_2_viewer_guard_rejects_a_request_that_names_another_viewer() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    let mut main_tab_cache = ProfileCacheWithoutAccount::default();
    let main_id = main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await; // only the shared cookie authenticates, and it says alt
    let before = balances(&server.base_url()).await;

    // main's tab says whom it expects; the cookie authenticates the alt: refused, nothing to cache.
    let response = main_tab.refetch_profile(Some(&main_id)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(main_tab_cache.store(response).await["error"], "viewer_mismatch");
    assert_eq!(main_tab_cache.shown_username(), None, "nothing of the alt's reached main's tab");

    // Mutations are guarded the same way: the alt would have paid main, and nothing moves.
    let body = json!({"viewer_id": main_id, "to": "main", "amount": 10});
    let response = main_tab.send(Method::POST, "/v1/transfers", Some(body)).await;
    assert_refused(response, StatusCode::FORBIDDEN, "viewer_mismatch").await;
    let response = main_tab.send(Method::POST, "/v1/viewer/train", Some(json!({"viewer_id": main_id}))).await;
    assert_refused(response, StatusCode::FORBIDDEN, "viewer_mismatch").await;
    assert_eq!(balances(&server.base_url()).await, before, "no ryo moved");
    assert_eq!(before, (1000, 250));
}

#[tokio::test]
async fn fix_layer_3_fail_closed_marker_refuses_the_cookie_fallback() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let (mut main_tab, alt_tab) = (Tab::new(&server.base_url(), &jar), Tab::new(&server.base_url(), &jar));
    main_tab.browser_sign_in("main").await;
    alt_tab.browser_sign_in("alt").await;
    let before = balances(&server.base_url()).await;

    // main's tab could not get its own token, and says so: the server must not answer from the cookie.
    main_tab.fail_closed_marker = true;
    assert!(jar.cookie_header().is_some(), "the valid alt cookie still goes with every request");
    let response = main_tab.refetch_profile(None).await;
    assert!(response.headers().contains_key("www-authenticate"));
    assert_refused(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let response = main_tab.send(Method::POST, "/v1/transfers", Some(json!({"to": "main", "amount": 10}))).await;
    assert_refused(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(balances(&server.base_url()).await, before, "no ryo moved");

    // Control: without the marker the same request is answered, as the alt.
    main_tab.fail_closed_marker = false;
    let profile = json_of(main_tab.refetch_profile(None).await).await;
    assert_eq!(profile["username"], "alt");
}

/// The web fix was reverted because, while its auth library was still loading, it sent `Authorization: Bearer
/// null` and then told signed-in players they were signed out. The server is right to refuse that request
/// (and never to fall back to the cookie for it); the mistake was sending it. Kage's client waits, bounded,
/// for its own token and shows "loading", and says "signed out" only when the server rejected the account's
/// refresh credential or the player signed out (docs/design.md, I11; and I1: never `Bearer null`, empty, or nothing).
#[tokio::test]
async fn fix_reverted_because_of_false_sign_out_kage_never_sends_bearer_null() {
    let (server, _dir) = server().await;
    let jar = CookieJar::default();
    let mut main_tab = Tab::new(&server.base_url(), &jar);
    main_tab.browser_sign_in("main").await;

    // The player is signed in: the cookie alone answers as main.
    assert_eq!(json_of(main_tab.refetch_profile(None).await).await["username"], "main");

    // The auth library is still loading and the tab sends `Bearer null`: refused, the valid cookie unused.
    main_tab.bearer = Some("null".into());
    let response = main_tab.refetch_profile(None).await;
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(challenge.is_some_and(|c| c.contains("invalid_token")), "the 401 names the refused token");
    assert_refused(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
