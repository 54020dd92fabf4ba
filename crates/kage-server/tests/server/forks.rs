//! Forked sessions (issue 17, item 3): a fork is another computer's session, minted only with proof of the
//! calling session's refresh token, independent of its parent in rotation, and ended with its parent by every
//! way a session ends; the session list tells the caller which sessions are its own forks, and a player can
//! end every session but the one they act from.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Grant, TestServer, body, expect_error, grant};

async fn fork(server: &TestServer, from: &Grant) -> Grant {
    let response = fork_with(server, &from.access_token, json!({"refresh_token": from.refresh_token})).await;
    assert_eq!(response.status(), StatusCode::CREATED, "fork");
    grant(body(response).await)
}

async fn fork_with(server: &TestServer, access_token: &str, proof: Value) -> reqwest::Response {
    server.request(Method::POST, "/v1/sessions/fork").bearer_auth(access_token).json(&proof).send().await.unwrap()
}

/// Refreshes `refresh_token` and returns the new grant; panics unless 200.
async fn refreshed(server: &TestServer, refresh_token: &str) -> Grant {
    let response = server.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh");
    grant(body(response).await)
}

/// Every credential of `grant`'s session is refused: its access token at once, its refresh token too.
async fn assert_ended(server: &TestServer, grant: &Grant, what: &str) {
    let answer = server.get_as("/v1/viewer", &grant.access_token).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}: the access token still works");
    expect_error(server.refresh(&grant.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

async fn assert_live(server: &TestServer, grant: &Grant, what: &str) {
    let answer = server.get_as("/v1/viewer", &grant.access_token).await;
    assert_eq!(answer.status(), StatusCode::OK, "{what}: refused");
}

#[tokio::test]
async fn i11_a_forked_session_is_independent_neither_signs_the_other_out() {
    let server = TestServer::start().await;
    let original = server.main().await;
    let forked = fork(&server, &original).await;
    assert_eq!(forked.user_id, original.user_id, "the same player");
    assert_ne!(forked.session_id, original.session_id, "another session");
    assert_ne!(forked.refresh_token, original.refresh_token);
    assert_eq!(server.profile(&forked).await["username"], "main");

    // Each computer refreshes on its own schedule: rotation in one family never reads as reuse in the other.
    let (mut here, mut there) = (original, forked);
    for _ in 0..4 {
        here = refreshed(&server, &here.refresh_token).await;
        there = refreshed(&server, &there.refresh_token).await;
    }
    assert_eq!(server.profile(&here).await["username"], "main");
    assert_eq!(server.profile(&there).await["username"], "main");

    // The fork keeps the original's creation time (same absolute end), and ending the fork leaves its parent.
    let list = body(server.get_as("/v1/sessions", &here.access_token).await).await;
    let created: Vec<&str> =
        list["sessions"].as_array().unwrap().iter().map(|s| s["created_at"].as_str().unwrap()).collect();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0], created[1]);
    let revoked = server.post_json("/v1/sessions/revoke", json!({"refresh_token": there.refresh_token})).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    expect_error(server.refresh(&there.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    let here = refreshed(&server, &here.refresh_token).await;
    assert_eq!(server.profile(&here).await["username"], "main");
}

#[tokio::test]
async fn fork_needs_a_bearer_token_of_a_live_session() {
    let server = TestServer::start().await;
    let cookie = server.browser_sign_in("main", "main-password").await;
    let response = server
        .request(Method::POST, "/v1/sessions/fork")
        .header("cookie", format!("__session={cookie}"))
        .json(&json!({"refresh_token": "anything"}))
        .send()
        .await;
    expect_error(response.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let main = server.main().await;
    let signed_out = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token);
    assert_eq!(signed_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let proof = json!({"refresh_token": main.refresh_token});
    expect_error(fork_with(&server, &main.access_token, proof).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// An access token lives a minute and rides on every request; a fork lives for months. So the access token
/// alone forks nothing: the calling session's own live refresh token must come with it.
#[tokio::test]
async fn fork_needs_proof_of_the_calling_sessions_live_refresh_token() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let other = server.main().await;
    let no_body = server.request(Method::POST, "/v1/sessions/fork").bearer_auth(&main.access_token).send().await;
    expect_error(no_body.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let wrong = [
        json!({"refresh_token": "made-up"}),
        json!({"refresh_token": other.refresh_token}), // the same player's, but another session's
    ];
    for proof in wrong {
        expect_error(fork_with(&server, &main.access_token, proof).await, StatusCode::UNAUTHORIZED, "invalid_grant")
            .await;
    }
    // A spent token of the calling session is no proof either: its live one is.
    let rotated = refreshed(&server, &main.refresh_token).await;
    let spent = json!({"refresh_token": main.refresh_token});
    expect_error(fork_with(&server, &rotated.access_token, spent).await, StatusCode::UNAUTHORIZED, "invalid_grant")
        .await;
    let forked = fork(&server, &rotated).await;
    assert_live(&server, &forked, "a fork with proof").await;
    let sessions = body(server.get_as("/v1/sessions", &main.access_token).await).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 3, "no fork was made without proof");
}

/// Every way a session ends reaches the sessions forked from it, forks of forks included.
#[tokio::test]
async fn ending_a_session_in_any_way_ends_its_forks() {
    let server = TestServer::start().await;
    // Sign-out.
    let parent = server.main().await;
    let (child, grandchild) = forks_of(&server, &parent).await;
    let response = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&parent.access_token);
    assert_eq!(response.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_ended(&server, &child, "sign-out: the fork").await;
    assert_ended(&server, &grandchild, "sign-out: the fork's fork").await;

    // The refresh token given up (POST /v1/sessions/revoke).
    let parent = server.main().await;
    let (child, grandchild) = forks_of(&server, &parent).await;
    let revoked = server.post_json("/v1/sessions/revoke", json!({"refresh_token": parent.refresh_token})).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_ended(&server, &child, "revoke: the fork").await;
    assert_ended(&server, &grandchild, "revoke: the fork's fork").await;

    // Reuse detection: a spent refresh token presented after its successor was used.
    let parent = server.main().await;
    let (child, grandchild) = forks_of(&server, &parent).await;
    let next = refreshed(&server, &parent.refresh_token).await;
    refreshed(&server, &next.refresh_token).await;
    expect_error(server.refresh(&parent.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    assert_ended(&server, &child, "reuse: the fork").await;
    assert_ended(&server, &grandchild, "reuse: the fork's fork").await;

    // The player ending it from another session.
    let parent = server.main().await;
    let (child, grandchild) = forks_of(&server, &parent).await;
    let elsewhere = server.main().await;
    let path = format!("/v1/sessions/{}", parent.session_id);
    let response = server.request(Method::DELETE, &path).bearer_auth(&elsewhere.access_token).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    assert_ended(&server, &child, "ended by the player: the fork").await;
    assert_ended(&server, &grandchild, "ended by the player: the fork's fork").await;
    assert_live(&server, &elsewhere, "the session the player acted from").await;
}

/// A fork and a fork of that fork, of `parent`.
async fn forks_of(server: &TestServer, parent: &Grant) -> (Grant, Grant) {
    let child = fork(server, parent).await;
    let grandchild = fork(server, &child).await;
    (child, grandchild)
}

/// The player on the computer that imported an account ends the session it came from: that one and its other
/// forks end, the session the player acts from does not.
#[tokio::test]
async fn ending_the_session_one_was_forked_from_spares_ones_own() {
    let server = TestServer::start().await;
    let parent = server.main().await;
    let here = fork(&server, &parent).await;
    let sibling = fork(&server, &parent).await;
    let path = format!("/v1/sessions/{}", parent.session_id);
    let response = server.request(Method::DELETE, &path).bearer_auth(&here.access_token).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    assert_ended(&server, &parent, "the parent").await;
    assert_ended(&server, &sibling, "the parent's other fork").await;
    assert_live(&server, &here, "the caller").await;
}

#[tokio::test]
async fn the_session_list_says_which_is_this_one_which_its_forks_and_which_others() {
    let server = TestServer::start().await;
    let here = server.main().await;
    let exported = fork(&server, &here).await;
    let exported_again = fork(&server, &exported).await;
    let elsewhere = server.main().await;
    let browser = server.browser_sign_in("main", "main-password").await;
    assert!(!browser.is_empty());
    let list = body(server.get_as("/v1/sessions", &here.access_token).await).await;
    let relation_of = |id: &str| {
        let sessions = list["sessions"].as_array().unwrap();
        let session = sessions.iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("{id} listed"));
        session["relation"].as_str().unwrap().to_owned()
    };
    assert_eq!(relation_of(&here.session_id), "current");
    assert_eq!(relation_of(&exported.session_id), "fork");
    assert_eq!(relation_of(&exported_again.session_id), "fork", "a fork of a fork is an export too");
    assert_eq!(relation_of(&elsewhere.session_id), "other");
    let relations: Vec<&str> =
        list["sessions"].as_array().unwrap().iter().map(|s| s["relation"].as_str().unwrap()).collect();
    assert_eq!(relations.iter().filter(|r| **r == "other").count(), 2, "the browser session is another: {relations:?}");
    // Seen from the export, the session it came from is just another one.
    let there = body(server.get_as("/v1/sessions", &exported.access_token).await).await;
    let from_there: Vec<(&str, &str)> = there["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["relation"].as_str().unwrap()))
        .collect();
    assert!(from_there.contains(&(here.session_id.as_str(), "other")), "{from_there:?}");
    assert!(from_there.contains(&(exported_again.session_id.as_str(), "fork")), "{from_there:?}");
}

#[tokio::test]
async fn ending_all_other_sessions_leaves_only_the_callers() {
    let server = TestServer::start().await;
    let here = server.main().await;
    let exported = fork(&server, &here).await;
    let elsewhere = server.main().await;
    let alt = server.alt().await;
    let response = server.request(Method::POST, "/v1/sessions/end-others").bearer_auth(&here.access_token).send();
    let response = response.await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await["ended"], 2);
    assert_ended(&server, &exported, "the export").await;
    assert_ended(&server, &elsewhere, "another computer").await;
    assert_live(&server, &here, "the caller").await;
    assert_live(&server, &alt, "another player").await;
    let list = body(server.get_as("/v1/sessions", &here.access_token).await).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    let again = server.request(Method::POST, "/v1/sessions/end-others").bearer_auth(&here.access_token).send();
    assert_eq!(body(again.await.unwrap()).await["ended"], 0);
}
