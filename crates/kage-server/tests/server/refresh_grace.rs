//! The refresh grace period (docs/design.md, I11): a refresh answer lost on the way never becomes a sign-out, while
//! a spent token that comes back after its successor was used, or after the grace period, is still reuse.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Grant, TestServer, body, expect_error, grant};

async fn refreshed(server: &TestServer, refresh_token: &str) -> Grant {
    let response = server.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh");
    grant(body(response).await)
}

async fn assert_session_revoked(server: &TestServer, grant: &Grant) {
    expect_error(server.get_as("/v1/viewer", &grant.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    expect_error(server.refresh(&grant.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn replay_within_grace_returns_the_same_successor_and_keeps_the_session() {
    let server = TestServer::start().await;
    let first = server.main().await;
    let lost = refreshed(&server, &first.refresh_token).await;
    let again = refreshed(&server, &first.refresh_token).await;
    assert_eq!(again.refresh_token.as_bytes(), lost.refresh_token.as_bytes(), "byte-identical successor");
    assert_eq!(
        (again.session_id.as_str(), again.user_id.as_str()),
        (first.session_id.as_str(), first.user_id.as_str())
    );
    assert_eq!(server.profile(&again).await["username"], "main", "the replay's access token works");
    assert_eq!(server.profile(&lost).await["username"], "main", "the session was not revoked");
    let next = refreshed(&server, &again.refresh_token).await;
    assert_ne!(next.refresh_token, again.refresh_token);
    assert_eq!(server.profile(&next).await["username"], "main");
}

// The canonical reuse case (the successor was used, then the spent token came back) is
// `sessions::reused_refresh_token_revokes_the_whole_session`.

#[tokio::test]
async fn replay_after_the_grace_period_revokes_the_session() {
    let server = TestServer::start_with(|config| config.refresh_grace = Duration::from_secs(1)).await;
    // Control: with the same 1 s grace, an immediate replay is accepted.
    let control = server.main().await;
    let successor = refreshed(&server, &control.refresh_token).await;
    assert_eq!(refreshed(&server, &control.refresh_token).await.refresh_token, successor.refresh_token);

    let first = server.main().await;
    let second = refreshed(&server, &first.refresh_token).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    expect_error(server.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_session_revoked(&server, &second).await;
}

#[tokio::test]
async fn zero_grace_makes_every_replay_reuse() {
    let server = TestServer::start_with(|config| config.refresh_grace = Duration::ZERO).await;
    let first = server.main().await;
    let second = refreshed(&server, &first.refresh_token).await;
    // A zero grace can still meet a replay in the same instant; a short pause makes the test exact.
    tokio::time::sleep(Duration::from_millis(20)).await;
    expect_error(server.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_session_revoked(&server, &second).await;
}

#[tokio::test]
async fn a_chain_of_lost_answers_never_signs_out() {
    let server = TestServer::start().await;
    let mut current = server.main().await;
    for step in 0..3 {
        let lost = refreshed(&server, &current.refresh_token).await;
        let retried = refreshed(&server, &current.refresh_token).await;
        assert_eq!(retried.refresh_token, lost.refresh_token, "step {step}: the retry gets the lost successor");
        assert_eq!(server.profile(&retried).await["username"], "main", "step {step}");
        current = retried;
    }
    let last = refreshed(&server, &current.refresh_token).await;
    assert_eq!(server.profile(&last).await["username"], "main");
}

#[tokio::test]
async fn replay_of_a_revoked_sessions_token_is_refused() {
    let server = TestServer::start().await;
    let first = server.main().await;
    let second = refreshed(&server, &first.refresh_token).await;
    let sign_out = server.request(reqwest::Method::DELETE, "/v1/sessions/current").bearer_auth(&second.access_token);
    assert_eq!(sign_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    expect_error(server.refresh(&first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn forty_concurrent_presentations_of_one_token_all_get_the_same_successor() {
    // Forty at once from one address is over the refresh bucket; this test is about the grace period.
    let server = TestServer::start_with(|config| config.throttle.refresh_burst = 100).await;
    let first = server.main().await;
    let answers = futures_util::future::join_all((0..40).map(|_| server.refresh(&first.refresh_token))).await;
    let mut successors = Vec::new();
    for response in answers {
        assert_eq!(response.status(), StatusCode::OK);
        successors.push(grant(body(response).await));
    }
    let successor = &successors[0];
    assert!(successors.iter().all(|g| g.refresh_token == successor.refresh_token), "one successor for all");
    assert_eq!(server.profile(successor).await["username"], "main", "the session is alive");
    assert_eq!(server.profile(&refreshed(&server, &successor.refresh_token).await).await["username"], "main");
}
