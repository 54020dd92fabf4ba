//! Two server instances on one PostgreSQL database (issue 12): what one instance does, the other knows.
//! Events and revocations travel through `LISTEN/NOTIFY`, the signing keys through the database. Runs only
//! with `KAGE_TEST_POSTGRES` (see `support`); without it each test says so and passes, since SQLite has one
//! process by design.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::events::EventStream;
use crate::support::{Grant, TestServer, expect_error, fresh_postgres_database};

const ISSUER: &str = "http://kage-cluster.test";

/// Instances `a` and `b` on one new database, with one issuer as behind one load balancer.
async fn two_instances() -> Option<(TestServer, TestServer)> {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: instances on one database need PostgreSQL; skipped");
        return None;
    };
    let on_shared = |url: String| {
        move |config: &mut kage_server::Config| {
            config.database_url = Some(url);
            config.issuer = Some(ISSUER.into());
        }
    };
    let a = TestServer::start_with(on_shared(url.clone())).await;
    let b = TestServer::start_with(on_shared(url)).await;
    Some((a, b))
}

#[tokio::test]
async fn a_transfer_on_one_instance_reaches_the_stream_the_recipient_holds_on_the_other() {
    let Some((a, b)) = two_instances().await else { return };
    let main = a.main().await;
    let alt = b.alt().await;
    let alt_before = b.profile(&alt).await["ryo"].as_i64().unwrap();
    let mut alt_stream = EventStream::open(&b, &alt).await;
    let response = a
        .request(Method::POST, "/v1/transfers")
        .bearer_auth(&main.access_token)
        .json(&json!({"to": "alt", "amount": 25}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (name, data) = alt_stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("open");
    assert_eq!(name, "transfer.received");
    assert_eq!(
        (data["user_id"].as_str(), data["from"].as_str(), data["amount"].as_i64()),
        (Some(alt.user_id.as_str()), Some("main"), Some(25))
    );
    let (name, data) = alt_stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("open");
    assert_eq!((name.as_str(), data["user_id"].as_str()), ("profile.changed", Some(alt.user_id.as_str())));
    let alt_after = b.profile(&alt).await;
    assert_eq!((alt_after["ryo"].as_i64(), &alt_after["version"]), (Some(alt_before + 25), &data["version"]));
}

#[tokio::test]
async fn a_sign_out_on_one_instance_stops_the_sessions_tokens_on_the_other_within_a_second() {
    let Some((a, b)) = two_instances().await else { return };
    let main = a.main().await;
    assert_eq!(b.profile(&main).await["username"], "main", "a token of a's verifies on b");
    let mut stream_on_b = EventStream::open(&b, &main).await;
    let response = a.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await;
    assert!(response.unwrap().status().is_success());
    let signed_out = Instant::now();
    loop {
        let answer = b.get_as("/v1/viewer", &main.access_token).await;
        if answer.status() == StatusCode::UNAUTHORIZED {
            expect_error(answer, StatusCode::UNAUTHORIZED, "invalid_token").await;
            break;
        }
        assert!(signed_out.elapsed() < Duration::from_secs(1), "still accepted on b after {:?}", signed_out.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("the session's token stopped on b {:?} after the sign-out on a", signed_out.elapsed());
    let ended = stream_on_b.next_within(Duration::from_secs(1)).await.expect("the stream on b ends in time");
    assert_eq!(ended, None, "b ended the signed-out session's event stream");
}

#[tokio::test]
async fn a_rotation_on_one_instance_is_in_force_on_the_others_and_old_tokens_still_verify() {
    let Some((a, b)) = two_instances().await else { return };
    let before = a.main().await;
    let old_kid = a.server.state.tokens.keys().current_kid().to_owned();
    let url = b.database_url.clone();
    let rotating = TestServer::start_with(move |config| {
        config.database_url = url;
        config.issuer = Some(ISSUER.into());
        config.rotate_signing_key = true;
    })
    .await;
    let new_kid = rotating.server.state.tokens.keys().current_kid().to_owned();
    assert_ne!(new_kid, old_kid, "the rotation made a new key");
    let after = rotating.alt().await;
    let rotated = Instant::now();
    while b.get_as("/v1/viewer", &after.access_token).await.status() != StatusCode::OK {
        assert!(rotated.elapsed() < Duration::from_secs(1), "b does not know the new key after a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for instance in [&a, &b, &rotating] {
        assert_eq!(instance.profile(&before).await["username"], "main", "a token signed before the rotation");
        assert_eq!(instance.profile(&after).await["username"], "alt", "a token signed after it");
    }
    let b_signs = b.main().await;
    let header = jsonwebtoken::decode_header(&b_signs.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()), "b signs with the new key too");
}

/// A fault after the database acted: b's listening connection is cut, a's revocation commits while b cannot
/// hear it, and b must still enforce it once it listens again (and say it is unhealthy meanwhile).
#[tokio::test]
async fn a_revocation_made_while_an_instance_was_deaf_is_in_force_when_it_hears_again() {
    let Some((a, b)) = two_instances().await else { return };
    let main = a.main().await;
    let alt = b.alt().await;
    let mut alt_stream = EventStream::open(&b, &alt).await;
    let mut admin = b.server.state.db.writer.acquire().await.unwrap();
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap();
    assert_eq!(cut.len(), 2, "both instances' listeners were cut");
    let cut_at = Instant::now();
    while b.server.state.hearing.is_listening() {
        assert!(cut_at.elapsed() < Duration::from_secs(2), "b notices its listener is gone");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let response = a.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await;
    assert!(response.unwrap().status().is_success());
    let mut saw_unhealthy = false;
    loop {
        let health = b.request(Method::GET, "/healthz").send().await.unwrap().status();
        saw_unhealthy |= health == StatusCode::SERVICE_UNAVAILABLE;
        if health == StatusCode::OK && b.server.state.hearing.is_listening() {
            break;
        }
        assert!(cut_at.elapsed() < Duration::from_secs(5), "b listens again within 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("b heard again {:?} after the cut", cut_at.elapsed());
    assert!(saw_unhealthy, "b said 503 while it could not hear");
    expect_error(b.get_as("/v1/viewer", &main.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let (name, data) = alt_stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("open");
    assert_eq!((name.as_str(), data["user_id"].as_str()), ("resync", Some(alt.user_id.as_str())), "alt refetches");
}

/// Forty transfers at once, main to alt and alt to main, spread over both instances: each is a 200 (no
/// deadlock between opposite transfers, which lock the same two rows) and no ryo appears or vanishes.
#[tokio::test]
async fn forty_opposite_transfers_at_once_over_two_instances_conserve_ryo_and_never_deadlock() {
    let Some((a, b)) = two_instances().await else { return };
    let (main, alt) = (a.main().await, a.alt().await);
    let total = |p: [serde_json::Value; 2]| p[0]["ryo"].as_i64().unwrap() + p[1]["ryo"].as_i64().unwrap();
    let before = total([a.profile(&main).await, a.profile(&alt).await]);
    let sends = (0..40).map(|n| {
        let (server, from, to) = match n % 4 {
            0 => (&a, &main, "alt"),
            1 => (&b, &main, "alt"),
            2 => (&a, &alt, "main"),
            _ => (&b, &alt, "main"),
        };
        server
            .request(Method::POST, "/v1/transfers")
            .bearer_auth(&from.access_token)
            .header("idempotency-key", format!("burst-{n}"))
            .json(&json!({"to": to, "amount": 1}))
            .send()
    });
    for response in futures_util::future::join_all(sends).await {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(total([b.profile(&main).await, b.profile(&alt).await]), before, "ryo conserved");
}

/// Forty event streams asked for at once by one player, twenty on each instance: sixteen open in all, as on one
/// instance, and a stream that closes gives its slot back to either instance.
#[tokio::test]
async fn forty_streams_at_once_over_two_instances_open_sixteen_in_all() {
    let Some((a, b)) = two_instances().await else { return };
    let main = a.main().await;
    let asks = (0..40).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        server.get_as("/v1/events", &main.access_token)
    });
    let answers = futures_util::future::join_all(asks).await;
    let statuses: Vec<StatusCode> = answers.iter().map(reqwest::Response::status).collect();
    let opened = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((opened, refused), (16, 24), "{statuses:?}");
    let mut open: Vec<reqwest::Response> = answers.into_iter().filter(|r| r.status() == StatusCode::OK).collect();
    expect_error(b.get_as("/v1/events", &main.access_token).await, StatusCode::TOO_MANY_REQUESTS, "too_many_streams")
        .await;
    // Another player is not affected.
    let alt = b.alt().await;
    EventStream::open(&a, &alt).await;

    // A stream that closes gives its slot back, to whichever instance asks next.
    for server in [&b, &a] {
        open.pop();
        open.push(open_when_free(server, &main).await);
    }
    expect_error(a.get_as("/v1/events", &main.access_token).await, StatusCode::TOO_MANY_REQUESTS, "too_many_streams")
        .await;
}

/// A stream of `grant`'s player on `server`, as soon as one of the player's slots is free (within 5 s).
async fn open_when_free(server: &TestServer, grant: &Grant) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get_as("/v1/events", &grant.access_token).await;
        if response.status() == StatusCode::OK {
            return response;
        }
        assert!(Instant::now() < deadline, "no slot came free: {}", response.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An instance killed without a word cannot give its streams' slots back: their rows lapse once it stops
/// renewing them, and the player's windows (reconnecting elsewhere) get their slots meanwhile anyway.
#[tokio::test]
async fn the_stream_slots_of_an_instance_that_died_lapse_by_themselves() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: instances on one database need PostgreSQL; skipped");
        return;
    };
    let a = TestServer::start_with(|config| config.database_url = Some(url.clone())).await;
    let main = a.main().await;
    // Sixteen slots of main's held by an instance that is gone: its leases run out in about a second, all at
    // the same instant (one statement, one `now()`: rows written one by one lapse a few ms apart, and the
    // first free slot could then come while some are still live, seen once: 7 rows left).
    let mut db = a.server.state.db.writer.acquire().await.unwrap();
    sqlx::query(
        "INSERT INTO stream_slots (id, user_id, instance, expires_at)
         SELECT 'slot-' || n, $1, 'killed', extract(epoch FROM now())::float8 + 1 FROM generate_series(0, 15) AS n",
    )
    .bind(&main.user_id)
    .execute(&mut *db)
    .await
    .unwrap();
    expect_error(a.get_as("/v1/events", &main.access_token).await, StatusCode::TOO_MANY_REQUESTS, "too_many_streams")
        .await;
    let _stream = open_when_free(&a, &main).await;
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM stream_slots WHERE instance = 'killed'")
        .fetch_one(&mut *db)
        .await
        .unwrap();
    assert_eq!(left, 0, "the lapsed rows are gone");
}
