//! Sessions end by themselves (idle and absolute limits), players see and end their own sessions, and what
//! ended sessions leave behind is pruned, while a live session keeps the spent tokens reuse detection needs.
//! Time is simulated by configuring limits of a few seconds.

use std::time::{Duration, Instant};

use kage_server::session_lifetime::SessionLimits;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Grant, TestServer, body, expect_error, grant};

fn limits(idle_secs: u64, lifetime_secs: u64) -> SessionLimits {
    SessionLimits { idle: Duration::from_secs(idle_secs), lifetime: Duration::from_secs(lifetime_secs) }
}

async fn refreshed(server: &TestServer, refresh_token: &str) -> Grant {
    let response = server.refresh(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh");
    grant(body(response).await)
}

async fn sleep_until(start: Instant, secs: f64) {
    tokio::time::sleep_until((start + Duration::from_secs_f64(secs)).into()).await;
}

async fn sessions_of(server: &TestServer, grant: &Grant) -> Vec<Value> {
    let response = server.get_as("/v1/sessions", &grant.access_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    body(response).await["sessions"].as_array().expect("a sessions array").clone()
}

async fn end_session(server: &TestServer, caller: &Grant, id: &str) -> reqwest::Response {
    let path = format!("/v1/sessions/{id}");
    server.request(Method::DELETE, &path).bearer_auth(&caller.access_token).send().await.unwrap()
}

async fn count(server: &kage_server::RunningServer, sql: &'static str, session_id: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).bind(session_id).fetch_one(&server.state.db.reader).await.unwrap();
    n
}

async fn rows_of(server: &kage_server::RunningServer, session_id: &str) -> (i64, i64) {
    let sessions = count(server, "SELECT COUNT(*) FROM sessions WHERE id = $1", session_id).await;
    let tokens = count(server, "SELECT COUNT(*) FROM refresh_tokens WHERE session_id = $1", session_id).await;
    (sessions, tokens)
}

#[tokio::test]
async fn an_idle_session_ends_its_refresh_is_invalid_grant_and_its_access_tokens_stop() {
    let server = TestServer::start_with(|config| config.sessions = limits(2, 3600)).await;
    let start = Instant::now();
    let first = server.main().await;
    // Each refresh restarts the idle clock: at 1.2 s and 2.4 s the session is alive, though 2.4 s is past
    // the idle limit counted from the sign-in.
    sleep_until(start, 1.2).await;
    let second = refreshed(&server, &first.refresh_token).await;
    sleep_until(start, 2.4).await;
    let third = refreshed(&server, &second.refresh_token).await;
    assert_eq!(server.profile(&third).await["username"], "main");

    sleep_until(start, 4.9).await;
    expect_error(server.refresh(&third.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    // The last access token was capped at the session's end; the refused refresh also stops it at once.
    expect_error(server.get_as("/v1/viewer", &third.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
    // A fresh session of the same player is unaffected.
    assert_eq!(server.profile(&server.main().await).await["username"], "main");
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_limit_however_often_it_is_refreshed() {
    let server = TestServer::start_with(|config| config.sessions = limits(3600, 3)).await;
    let start = Instant::now();
    let mut current = server.main().await;
    for at in [1.0, 2.0] {
        sleep_until(start, at).await;
        current = refreshed(&server, &current.refresh_token).await;
    }
    sleep_until(start, 3.5).await;
    expect_error(server.refresh(&current.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    expect_error(server.get_as("/v1/viewer", &current.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token")
        .await;
}

#[tokio::test]
async fn no_token_outlives_its_session() {
    let server = TestServer::start_with(|config| config.sessions = limits(3600, 3)).await;
    let response =
        server.post_json("/v1/sessions", serde_json::json!({"username": "main", "password": "main-password"}));
    let value = body(response.await).await;
    let expires_in = value["expires_in"].as_u64().unwrap();
    assert!(expires_in <= 3, "access token lives {expires_in} s in a 3 s session");
    let access = grant(value).access_token;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&access).unwrap().claims;
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 3, "{claims}");

    let response = server
        .post_json("/v1/browser/sessions", serde_json::json!({"username": "alt", "password": "alt-password"}))
        .await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    let max_age: u64 = cookie.split("Max-Age=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!(max_age <= 3, "the browser cookie lives {max_age} s in a 3 s session: {cookie}");
}

#[tokio::test]
async fn a_player_lists_only_their_own_live_sessions_with_the_current_one_marked() {
    let server = TestServer::start().await;
    let here = server.main().await;
    let elsewhere = server.main().await;
    let signed_out = server.main().await;
    let browser_cookie = server.browser_sign_in("main", "main-password").await;
    let alt = server.alt().await;
    let revoked =
        server.post_json("/v1/sessions/revoke", serde_json::json!({"refresh_token": signed_out.refresh_token}));
    assert_eq!(revoked.await.status(), StatusCode::OK);

    let listed = sessions_of(&server, &here).await;
    let ids: Vec<&str> = listed.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{listed:?}");
    assert!(ids.contains(&here.session_id.as_str()) && ids.contains(&elsewhere.session_id.as_str()));
    assert!(!ids.contains(&signed_out.session_id.as_str()), "a revoked session is not listed");
    assert!(!ids.contains(&alt.session_id.as_str()), "another player's session is never listed");
    for session in &listed {
        let is_here = session["id"] == here.session_id.as_str();
        assert_eq!(session["current"], is_here, "{session}");
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert!(session[field].as_str().is_some_and(|t| t.ends_with('Z')), "{field} in {session}");
        }
    }
    assert_eq!(listed.iter().filter(|s| s["kind"] == "browser").count(), 1);

    // The browser session sees the same list, with itself as current.
    let response = server.request(Method::GET, "/v1/sessions").header("cookie", format!("__session={browser_cookie}"));
    let from_browser = body(response.send().await.unwrap()).await;
    let current: Vec<&Value> =
        from_browser["sessions"].as_array().unwrap().iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["kind"], "browser");

    let alts = sessions_of(&server, &alt).await;
    assert_eq!(alts.len(), 1);
    assert_eq!(alts[0]["id"], alt.session_id.as_str());
}

#[tokio::test]
async fn a_player_ends_a_session_left_on_another_computer() {
    let server = TestServer::start().await;
    let here = server.main().await;
    let other_computer = server.main().await;
    let started = Instant::now();
    assert_eq!(end_session(&server, &here, &other_computer.session_id).await.status(), StatusCode::NO_CONTENT);
    let response = server.get_as("/v1/viewer", &other_computer.access_token).await;
    expect_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(started.elapsed() < Duration::from_secs(1), "the other computer's access token stopped at once");
    expect_error(server.refresh(&other_computer.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;

    assert_eq!(server.profile(&here).await["username"], "main", "the calling session goes on");
    let listed = sessions_of(&server, &here).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], here.session_id.as_str());
    // Ended already: no longer one of the player's live sessions.
    expect_error(end_session(&server, &here, &other_computer.session_id).await, StatusCode::NOT_FOUND, "not_found")
        .await;
}

#[tokio::test]
async fn another_players_session_id_is_404_like_an_unknown_one_and_that_session_lives_on() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let theirs = end_session(&server, &main, &alt.session_id).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let theirs = body(theirs).await;
    let unknown = end_session(&server, &main, "6d0c8c5e-0000-4000-8000-000000000000").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(theirs, body(unknown).await, "the answer does not tell whose session an id is");
    assert_eq!(theirs["error"], "not_found");
    assert_eq!(server.profile(&alt).await["username"], "alt", "alt's session was not touched");
    assert_eq!(refreshed(&server, &alt.refresh_token).await.session_id, alt.session_id);
}

#[tokio::test]
async fn ended_sessions_are_pruned_while_a_live_session_keeps_its_spent_tokens_for_reuse_detection() {
    // Tokens live 1 s (+5 s leeway), so an ended session's rows are needed for 6 s; pruning runs every 200 ms.
    let server = TestServer::start_with(|config| {
        config.access_ttl = Duration::from_secs(1);
        config.browser_ttl = Duration::from_secs(1);
        config.prune_every = Duration::from_millis(200);
    })
    .await;
    let live_first = server.main().await;
    let live_second = refreshed(&server, &live_first.refresh_token).await;
    let live_third = refreshed(&server, &live_second.refresh_token).await;
    let ended = server.alt().await;
    let ended_next = refreshed(&server, &ended.refresh_token).await;
    let sign_out = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&ended_next.access_token);
    assert_eq!(sign_out.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(rows_of(&server.server, &ended.session_id).await, (1, 2));

    let deadline = Instant::now() + Duration::from_secs(20);
    while rows_of(&server.server, &ended.session_id).await != (0, 0) {
        assert!(Instant::now() < deadline, "the ended session's rows were never pruned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rows_of(&server.server, &live_first.session_id).await, (1, 3), "the live session keeps every row");
    // Which is what lets reuse detection still see the first, long-spent token for what it is.
    expect_error(server.refresh(&live_first.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    expect_error(server.refresh(&live_third.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_grant").await;
}

#[tokio::test]
async fn a_restart_prunes_sessions_that_ended_while_it_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut config = kage_server::Config::new(dir.path());
        config.demo = true;
        config.issuer = Some("http://kage.test".into());
        config.access_ttl = Duration::from_secs(1);
        config.browser_ttl = Duration::from_secs(1);
        config.sessions = limits(1, 3600);
        config.prune_every = Duration::from_secs(3600);
        config
    };
    let server = kage_server::start(config()).await.unwrap();
    let http = reqwest::Client::new();
    let sign_in = |username: &'static str| {
        let url = format!("{}/v1/sessions", server.base_url());
        let password = format!("{username}-password");
        let request = http.post(url).json(&serde_json::json!({"username": username, "password": password}));
        async move { grant(request.send().await.unwrap().json().await.unwrap()) }
    };
    let idle = sign_in("main").await;
    let revoked = sign_in("alt").await;
    let url = format!("{}/v1/sessions/revoke", server.base_url());
    let revoke = http.post(url).json(&serde_json::json!({"refresh_token": revoked.refresh_token}));
    assert_eq!(revoke.send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(rows_of(&server, &idle.session_id).await, (1, 1));
    assert_eq!(rows_of(&server, &revoked.session_id).await, (1, 1));
    server.shutdown().await.unwrap();

    // Idle ends at 1 s; every token is dead 1 s + 5 s leeway after the end.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let restarted = kage_server::start(config()).await.unwrap();
    assert_eq!(rows_of(&restarted, &idle.session_id).await, (0, 0), "the idle session was pruned at start");
    assert_eq!(rows_of(&restarted, &revoked.session_id).await, (0, 0), "the revoked session was pruned at start");
    restarted.shutdown().await.unwrap();
}
