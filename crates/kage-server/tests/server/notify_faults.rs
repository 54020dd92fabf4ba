//! Instances on one PostgreSQL database when their notifications go wrong (issues 21 and 17): a sign-out cut
//! between its write and its announcement, and notifications forged by a role that may `NOTIFY` but not write.
//! Runs only with `KAGE_TEST_POSTGRES`, like `instances.rs`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Connection;

use crate::events::EventStream;
use crate::support::{TestServer, expect_error, fresh_postgres_database};

const ISSUER: &str = "http://kage-cluster.test";
/// The advisory lock a paused announcement waits on, held by the test.
const PAUSE_LOCK: i64 = 72_021;

async fn instance_on(url: &str) -> TestServer {
    let url = url.to_owned();
    TestServer::start_with(move |config| {
        config.database_url = Some(url);
        config.issuer = Some(ISSUER.into());
    })
    .await
}

/// A database whose `pg_notify` can be paused for `kage_revoked` while the table `pause_revocations` has a row:
/// the statement after a revocation's `UPDATE` then waits on [`PAUSE_LOCK`], where the test can kill its
/// connection. `pg_notify` resolves to `public.pg_notify` because the database puts `public` before
/// `pg_catalog` in its search path (set before any instance connects); every other call passes straight on.
async fn database_with_a_pausable_announcement() -> Option<String> {
    let url = fresh_postgres_database().await?;
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let name = url.rsplit_once('/').unwrap().1.to_owned();
    let setup = format!(
        "ALTER DATABASE {name} SET search_path = public, pg_catalog;
         CREATE TABLE public.pause_revocations (paused boolean);
         CREATE FUNCTION public.pg_notify(channel text, payload text) RETURNS void LANGUAGE plpgsql AS $$
         BEGIN
             IF channel = 'kage_revoked' AND EXISTS (SELECT 1 FROM public.pause_revocations) THEN
                 PERFORM pg_catalog.pg_advisory_xact_lock({PAUSE_LOCK});
             END IF;
             PERFORM pg_catalog.pg_notify(channel, payload);
         END $$;"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup)).execute(&mut admin).await.unwrap();
    Some(url)
}

/// Issue 21, item 3: the connection dies after a sign-out's `UPDATE` and before its `NOTIFY`. The two are one
/// transaction, so the sign-out is not half made: not revoked in the database while every instance still
/// accepts its token, but not revoked at all (the client is told 500 and signs out again), and a sign-out
/// that goes through is both written and heard.
#[tokio::test]
async fn a_sign_out_cut_between_its_write_and_its_announcement_happens_wholly_or_not_at_all() {
    let Some(url) = database_with_a_pausable_announcement().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: the announcement between instances needs PostgreSQL; skipped");
        return;
    };
    let (a, b) = (instance_on(&url).await, instance_on(&url).await);
    let main = a.main().await;
    let mut test = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)").bind(PAUSE_LOCK).execute(&mut test).await.unwrap();
    sqlx::query("INSERT INTO public.pause_revocations VALUES (true)").execute(&mut test).await.unwrap();

    let sign_out = a.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send();
    let sign_out = tokio::spawn(sign_out);
    let paused = Instant::now();
    let pid = loop {
        let waiting: Option<(i32,)> = sqlx::query_as(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
             AND datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_optional(&mut test)
        .await
        .unwrap();
        if let Some((pid,)) = waiting {
            break pid;
        }
        assert!(paused.elapsed() < Duration::from_secs(5), "the sign-out never reached its announcement");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut test).await.unwrap();
    let answer = sign_out.await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR, "the sign-out was cut short");

    let (revoked,): (Option<String>,) = sqlx::query_as("SELECT revoked_at FROM sessions WHERE id = $1")
        .bind(&main.session_id)
        .fetch_one(&mut test)
        .await
        .unwrap();
    assert_eq!(revoked, None, "the write stood without its announcement: a revocation no instance enforces");
    for (name, instance) in [("a", &a), ("b", &b)] {
        let answer = instance.get_as("/v1/viewer", &main.access_token).await.status();
        assert_eq!(answer, StatusCode::OK, "{name}: not revoked, so accepted everywhere alike");
    }

    // The client signs out again (kage-core retries a sign-out the server could not complete): both happen.
    sqlx::query("DELETE FROM public.pause_revocations").execute(&mut test).await.unwrap();
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(PAUSE_LOCK).execute(&mut test).await.unwrap();
    let again = a.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await;
    assert_eq!(again.unwrap().status(), StatusCode::NO_CONTENT);
    let signed_out = Instant::now();
    while b.get_as("/v1/viewer", &main.access_token).await.status() != StatusCode::UNAUTHORIZED {
        assert!(signed_out.elapsed() < Duration::from_secs(1), "b still accepts the signed-out token");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    expect_error(a.get_as("/v1/viewer", &main.access_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// Issue 17 (low): any role that may connect may `NOTIFY` any channel. A role of the test's own that cannot
/// write the server's tables forges a revocation of main's session and a transfer to alt, in the format the
/// instances used to trust, and replays a real event's id: no instance signs main out or tells alt anything.
#[tokio::test]
async fn notifications_forged_by_a_role_that_cannot_write_the_tables_change_nothing() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: notifications between instances need PostgreSQL; skipped");
        return;
    };
    let (a, b) = (instance_on(&url).await, instance_on(&url).await);
    let (main, alt) = (a.main().await, b.alt().await);
    let mut alt_on_a = EventStream::open(&a, &alt).await;
    let mut alt_on_b = EventStream::open(&b, &alt).await;

    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let forger = format!("forger_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {forger} LOGIN"))).execute(&mut admin).await.unwrap();
    let forger_url = url.replacen("://kage@", &format!("://{forger}@"), 1);
    assert_ne!(forger_url, url, "the forger connects as itself");
    let mut forged = sqlx::PgConnection::connect(&forger_url).await.unwrap();
    let write = sqlx::query("UPDATE sessions SET revoked_at = 'now' WHERE id = $1").bind(&main.session_id);
    assert!(write.execute(&mut forged).await.is_err(), "the forger cannot write the sessions table");
    let fake_transfer = format!(
        "transfer.received\n{}",
        json!({"user_id": alt.user_id, "from": "main", "amount": 1_000_000, "version": 99})
    );
    for (channel, payload) in [
        ("kage_revoked", main.session_id.as_str()),
        ("kage_events", fake_transfer.as_str()),
        ("kage_events", "1"),
        ("kage_keys", "forged-kid"),
    ] {
        sqlx::query("SELECT pg_notify($1, $2)").bind(channel).bind(payload).execute(&mut forged).await.unwrap();
    }

    // A real transfer after the forgeries: notifications arrive in order, so whatever the forgeries did
    // would come first.
    let sent = a
        .request(Method::POST, "/v1/transfers")
        .bearer_auth(&main.access_token)
        .json(&json!({"to": "alt", "amount": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
    for (name, stream) in [("a", &mut alt_on_a), ("b", &mut alt_on_b)] {
        let (event, data) = stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("open");
        assert_eq!((event.as_str(), data["amount"].as_i64()), ("transfer.received", Some(3)), "{name}: {data}");
        let (event, _) = stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("open");
        assert_eq!(event, "profile.changed", "{name}");
    }
    for (name, instance) in [("a", &a), ("b", &b)] {
        let answer = instance.get_as("/v1/viewer", &main.access_token).await.status();
        assert_eq!(answer, StatusCode::OK, "{name} signed main out on a forged notification");
    }

    // The real transfer's event ids, named again by the forger: each instance delivers an event once.
    let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM event_outbox").fetch_all(&mut admin).await.unwrap();
    assert_eq!(ids.len(), 3, "the transfer's events were written to the outbox");
    for (id,) in ids {
        let replay = sqlx::query("SELECT pg_notify('kage_events', $1)").bind(id.to_string());
        replay.execute(&mut forged).await.unwrap();
    }
    for (name, stream) in [("a", &mut alt_on_a), ("b", &mut alt_on_b)] {
        assert!(stream.next_within(Duration::from_millis(500)).await.is_none(), "{name} delivered a replayed event");
    }
}
