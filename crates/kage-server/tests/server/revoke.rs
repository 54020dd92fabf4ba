//! `POST /v1/sessions/revoke`: whoever holds a refresh token can end its session, with an answer that tells
//! nothing, and the revocation is on disk before it is in force, so a restart keeps it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Grant, TestServer, body, expect_error, grant};

async fn revoke(server: &TestServer, refresh_token: &str) -> reqwest::Response {
    server.post_json("/v1/sessions/revoke", json!({"refresh_token": refresh_token})).await
}

async fn assert_revoked(server: &TestServer, grant: &Grant) {
    expect_error(server.get_as("/v1/viewer", &grant.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    expect_error(server.refresh(&grant.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn revoking_an_unknown_token_is_200() {
    let server = TestServer::start().await;
    let response = revoke(&server, "never-issued").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn revoke_then_refresh_is_invalid_grant_and_the_access_token_dies_at_once() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let other_session = server.main().await;
    assert_eq!(server.profile(&main).await["username"], "main");
    let started = Instant::now();
    assert_eq!(revoke(&server, &main.refresh_token).await.status(), StatusCode::OK);
    expect_error(server.get_as("/v1/viewer", &main.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    assert!(started.elapsed() < Duration::from_secs(1), "the access token stopped within the same second");
    expect_error(server.refresh(&main.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_eq!(server.profile(&other_session).await["username"], "main", "other sessions are untouched");
    // Again, now that it is revoked: still 200.
    assert_eq!(revoke(&server, &main.refresh_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_with_a_spent_token_ends_the_session() {
    let server = TestServer::start().await;
    let first = server.main().await;
    let second = grant(body(server.refresh(&first.refresh_token).await).await);
    assert_eq!(revoke(&server, &first.refresh_token).await.status(), StatusCode::OK);
    assert_revoked(&server, &second).await;
}

#[tokio::test]
async fn revoking_with_a_token_spent_outside_grace_ends_the_session() {
    let server = TestServer::start_with(|config| config.refresh_grace = Duration::ZERO).await;
    let first = server.main().await;
    let second = grant(body(server.refresh(&first.refresh_token).await).await);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(revoke(&server, &first.refresh_token).await.status(), StatusCode::OK);
    assert_revoked(&server, &second).await;
}

#[tokio::test]
async fn revocation_by_refresh_token_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = kage_server::Config::new(dir.path());
        config.demo = true;
        config.issuer = Some("http://kage.test".into());
        config
    };
    let http = reqwest::Client::new();
    let server = kage_server::start(config()).await.unwrap();
    let url = |server: &kage_server::RunningServer, path: &str| format!("{}{path}", server.base_url());
    let sign_in =
        http.post(url(&server, "/v1/sessions")).json(&json!({"username": "main", "password": "main-password"}));
    let main = grant(body(sign_in.send().await.unwrap()).await);
    let revoked = http.post(url(&server, "/v1/sessions/revoke")).json(&json!({"refresh_token": main.refresh_token}));
    assert_eq!(revoked.send().await.unwrap().status(), StatusCode::OK);
    server.shutdown().await.unwrap();

    let restarted = kage_server::start(config()).await.unwrap();
    let viewer = http.get(url(&restarted, "/v1/viewer")).bearer_auth(&main.access_token).send().await.unwrap();
    expect_error(viewer, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let refresh =
        http.post(url(&restarted, "/v1/sessions/refresh")).json(&json!({"refresh_token": main.refresh_token}));
    expect_error(refresh.send().await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // Control: the restarted server accepts a fresh session's tokens, so the 401s above are the revocation.
    let sign_in =
        http.post(url(&restarted, "/v1/sessions")).json(&json!({"username": "main", "password": "main-password"}));
    let fresh = grant(body(sign_in.send().await.unwrap()).await);
    let viewer = http.get(url(&restarted, "/v1/viewer")).bearer_auth(&fresh.access_token).send().await.unwrap();
    assert_eq!(viewer.status(), StatusCode::OK);
    restarted.shutdown().await.unwrap();
}
