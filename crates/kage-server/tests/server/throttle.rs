//! Sign-in and sign-up throttles hold under concurrency and count per client address: a burst of guesses
//! gets a bounded number of password checks, and another address's failures never lock a player out. On
//! PostgreSQL, instances sharing the database share the limits too.

use reqwest::{Client, Response, StatusCode};
use serde_json::json;

use kage_server::Config;

use crate::support::{TestServer, expect_error, on_postgres};

const HOME: [u8; 4] = [127, 0, 0, 1];
const AWAY: [u8; 4] = [127, 0, 0, 2];

async fn sign_in(server: &TestServer, client: &Client, username: &str, password: &str) -> Response {
    let body = json!({"username": username, "password": password});
    client.post(server.url("/v1/sessions")).json(&body).send().await.expect("request")
}

fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds")
}

#[tokio::test]
async fn forty_parallel_wrong_guesses_get_at_most_five_password_checks() {
    let server = TestServer::start().await;
    let home = server.client_from(HOME);
    let guesses = (0..40).map(|i| {
        let home = home.clone();
        let server = &server;
        async move { sign_in(server, &home, "main", &format!("guess-{i}")).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let (mut checked, mut throttled) = (0, 0);
    for response in answers {
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(&response);
                assert!((1..=300).contains(&wait), "Retry-After {wait}");
                expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((checked, throttled), (5, 35), "wrong-password answers vs throttled answers");
    assert_eq!(server.server.state.passwords.checks(), 5, "argon2 ran for five guesses only");
    // The right password from the same address waits out the window too.
    let response = sign_in(&server, &home, "main", "main-password").await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test]
async fn another_addresss_failures_do_not_lock_a_player_out() {
    let server = TestServer::start().await;
    let attacker = server.client_from(AWAY);
    for _ in 0..5 {
        expect_error(sign_in(&server, &attacker, "main", "guess").await, StatusCode::UNAUTHORIZED, "wrong_credentials")
            .await;
    }
    let response = sign_in(&server, &attacker, "main", "guess").await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let player = server.client_from(HOME);
    assert_eq!(sign_in(&server, &player, "main", "main-password").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn one_address_is_limited_across_usernames() {
    let server = TestServer::start_with(|config| config.throttle.per_address = 6).await;
    let sprayer = server.client_from(AWAY);
    for i in 0..6 {
        let response = sign_in(&server, &sprayer, &format!("name-{i}"), "password1").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    let response = sign_in(&server, &sprayer, "main", "main-password").await;
    assert!(retry_after(&response) >= 1);
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let player = server.client_from(HOME);
    assert_eq!(sign_in(&server, &player, "main", "main-password").await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn successful_sign_ins_do_not_use_up_the_limits() {
    let server = TestServer::start_with(|config| config.throttle.per_address = 3).await;
    let home = server.client_from(HOME);
    for _ in 0..8 {
        assert_eq!(sign_in(&server, &home, "main", "main-password").await.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn sign_up_is_limited_per_address() {
    let server = TestServer::start_with(|config| config.throttle.sign_ups_per_address = 2).await;
    let sign_up = |client: Client, username: &'static str| {
        let url = server.url("/v1/sign-up");
        async move {
            client.post(url).json(&json!({"username": username, "password": "long-enough-pw"})).send().await.unwrap()
        }
    };
    let home = server.client_from(HOME);
    assert_eq!(sign_up(home.clone(), "first").await.status(), StatusCode::CREATED);
    assert_eq!(sign_up(home.clone(), "second").await.status(), StatusCode::CREATED);
    let response = sign_up(home, "third").await;
    assert!(retry_after(&response) > 60, "the sign-up window is an hour");
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_sign_ups").await;
    assert_eq!(sign_up(server.client_from(AWAY), "third").await.status(), StatusCode::CREATED);
}

async fn sign_in_forwarded(server: &TestServer, forwarded_for: &str, password: &str) -> Response {
    let body = json!({"username": "main", "password": password});
    let request = server.http.post(server.url("/v1/sessions")).header("x-forwarded-for", forwarded_for).json(&body);
    request.send().await.unwrap()
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_trusted() {
    let server = TestServer::start().await;
    // A client cannot escape its limit by writing a new address into the header each time.
    for i in 0..5 {
        let response = sign_in_forwarded(&server, &format!("10.0.0.{i}"), "guess").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    let response = sign_in_forwarded(&server, "10.0.0.99", "main-password").await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
}

#[tokio::test]
async fn trusted_forwarded_for_counts_each_client_behind_the_proxy() {
    let server = TestServer::start_with(|config| config.trust_forwarded_for = true).await;
    for _ in 0..5 {
        let response = sign_in_forwarded(&server, "203.0.113.9, 10.0.0.1", "guess").await;
        expect_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    // Only the last entry (the proxy's own) counts: a different first entry does not escape.
    let response = sign_in_forwarded(&server, "198.51.100.1, 10.0.0.1", "main-password").await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    let response = sign_in_forwarded(&server, "10.0.0.2", "main-password").await;
    assert_eq!(response.status(), StatusCode::CREATED, "another client behind the proxy signs in");
}

#[tokio::test]
async fn i11_a_burst_of_refreshes_from_one_address_gets_429_with_retry_after_and_recovers() {
    let server = TestServer::start_with(|config| {
        config.throttle.refresh_burst = 3;
        config.throttle.refresh_per_minute = 60;
    })
    .await;
    let grant = server.main().await;
    let home = server.client_from(HOME);
    let refresh = |client: &Client, token: &str| {
        client.post(server.url("/v1/sessions/refresh")).json(&json!({"refresh_token": token})).send()
    };
    // Three unknown tokens use up the bucket (a refusal for another reason still costs a refresh).
    for _ in 0..3 {
        let response = refresh(&home, "not-a-refresh-token").await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_grant").await;
    }
    let refused = refresh(&home, &grant.refresh_token).await.unwrap();
    assert_eq!(retry_after(&refused), 1, "one refresh is back within a second at 60 a minute");
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_refreshes").await;
    // Another address has its own bucket.
    let away = server.client_from(AWAY);
    expect_error(refresh(&away, "not-a-refresh-token").await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_grant").await;

    // After the wait, the same refresh token works: the refused refresh did not spend it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let response = refresh(&home, &grant.refresh_token).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// Two instances on one database behind a load balancer sign the same tokens' issuer.
const CLUSTER_ISSUER: &str = "http://kage-cluster.test";

/// Two instances on one fresh PostgreSQL database, each configured by `configure`; `None`, with a note, on
/// SQLite, whose database has one server process.
async fn two_instances(test: &str, configure: impl Fn(&mut Config)) -> Option<(TestServer, TestServer)> {
    if !on_postgres() {
        println!("{test}: skipped, two instances need PostgreSQL (set KAGE_TEST_POSTGRES)");
        return None;
    }
    let shared = |config: &mut Config| {
        configure(config);
        config.issuer = Some(CLUSTER_ISSUER.to_owned());
    };
    let first = TestServer::start_with(shared).await;
    let second = first.another_instance(shared).await;
    Some((first, second))
}

#[tokio::test]
async fn forty_wrong_guesses_spread_over_two_instances_get_one_limit_of_password_checks() {
    let test = "forty_wrong_guesses_spread_over_two_instances_get_one_limit_of_password_checks";
    let Some((first, second)) = two_instances(test, |_| {}).await else { return };
    let limit = first.server.state.throttle.policy().per_account_and_address as usize;
    let guesses = (0..40).map(|i| {
        let server = if i % 2 == 0 { &first } else { &second };
        let home = server.client_from(HOME);
        async move { sign_in(server, &home, "main", &format!("guess-{i}")).await.status() }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let throttled = answers.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (limit, 40 - limit), "wrong-password answers vs throttled answers: {answers:?}");
    let password_checks = first.server.state.passwords.checks() + second.server.state.passwords.checks();
    assert_eq!(password_checks, limit as u64, "argon2 ran for the limit's guesses, on both instances together");
    // Either instance now refuses the right password from that address too.
    for server in [&first, &second] {
        let response = sign_in(server, &server.client_from(HOME), "main", "main-password").await;
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    }
}

#[tokio::test]
async fn a_refresh_burst_spread_over_two_instances_empties_one_bucket() {
    let test = "a_refresh_burst_spread_over_two_instances_empties_one_bucket";
    let configure = |config: &mut Config| {
        config.throttle.refresh_burst = 6;
        // Slow enough that no refresh comes back while the burst is answered.
        config.throttle.refresh_per_minute = 1;
    };
    let Some((first, second)) = two_instances(test, configure).await else { return };
    let refreshes =
        (0..40).map(|i| {
            let server = if i % 2 == 0 { &first } else { &second };
            let home = server.client_from(HOME);
            let url = server.url("/v1/sessions/refresh");
            async move {
                home.post(url).json(&json!({"refresh_token": "not-a-refresh-token"})).send().await.unwrap().status()
            }
        });
    let answers = futures_util::future::join_all(refreshes).await;
    // A refresh the bucket lets through is looked at, and this token is unknown: 401.
    let admitted = answers.iter().filter(|status| **status == StatusCode::UNAUTHORIZED).count();
    let refused = answers.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((admitted, refused), (6, 34), "{answers:?}");
}
