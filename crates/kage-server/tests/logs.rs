//! I6 on the server: logs at TRACE, from every crate in the process, never contain a password, an access
//! token, a refresh token or a cookie value. Its own binary, because it installs the global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_never_contain_tokens_cookies_or_passwords() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(dir.path());
    config.demo = true;
    let server = kage_server::start(config).await.unwrap();
    let url = |path: &str| format!("{}{path}", server.base_url());
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request = http.post(url(path)).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut secrets: Vec<String> = vec!["main-password".into(), "alt-password".into(), "a-new-password".into()];

    let signed_up = http.post(url("/v1/sign-up")).json(&json!({"username": "newbie", "password": "a-new-password"}));
    assert_eq!(signed_up.send().await.unwrap().status(), StatusCode::CREATED);
    let wrong = http.post(url("/v1/sessions")).json(&json!({"username": "main", "password": "wrong-guess-pw"}));
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    secrets.push("wrong-guess-pw".into());
    let grant = post("/v1/sessions", json!({"username": "main", "password": "main-password"})).await;
    let (access, refresh) = (grant["access_token"].as_str().unwrap(), grant["refresh_token"].as_str().unwrap());
    secrets.extend([access.to_owned(), refresh.to_owned()]);
    let rotated = post("/v1/sessions/refresh", json!({"refresh_token": refresh})).await;
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    secrets.extend([new_access.clone(), rotated["refresh_token"].as_str().unwrap().to_owned()]);
    // The spent token again, within the grace period (a lost answer): logged, without the token.
    let replay = http.post(url("/v1/sessions/refresh")).json(&json!({"refresh_token": refresh}));
    assert_eq!(replay.send().await.unwrap().status(), StatusCode::OK);
    // Using the successor closes the grace period; a later reuse is a warning, without the token.
    let third = post("/v1/sessions/refresh", json!({"refresh_token": rotated["refresh_token"]})).await;
    secrets.extend(["access_token", "refresh_token"].map(|name| third[name].as_str().unwrap().to_owned()));
    let reuse = http.post(url("/v1/sessions/refresh")).json(&json!({"refresh_token": refresh}));
    assert_eq!(reuse.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let browser = http
        .post(url("/v1/browser/sessions"))
        .json(&json!({"username": "alt", "password": "alt-password"}))
        .send()
        .await
        .unwrap();
    let cookie = browser.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    secrets.push(cookie.trim_start_matches("__session=").to_owned());
    let by_cookie = http.get(url("/v1/viewer")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    let train = http.post(url("/v1/viewer/train")).header("cookie", &cookie).json(&json!({}));
    assert_eq!(train.send().await.unwrap().status(), StatusCode::OK);
    let bad_bearer = http.get(url("/v1/viewer")).bearer_auth(&new_access).send().await.unwrap();
    assert_eq!(bad_bearer.status(), StatusCode::UNAUTHORIZED, "the session was revoked by reuse detection");
    let sign_out = http.request(Method::DELETE, url("/v1/sessions/current")).header("cookie", &cookie);
    assert_eq!(sign_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    server.shutdown().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("signed in"), "the capture works: {} bytes", logs.len());
    assert!(logs.contains("refresh token reused"));
    assert!(logs.contains("within grace"));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret ({} chars) appears in the logs", secret.len());
        // JWT segments can leak alone (for example a logged header value cut at a dot).
        for segment in secret.split('.').filter(|s| s.len() > 20) {
            assert!(!logs.contains(segment), "part of a secret appears in the logs");
        }
    }
}
