//! Every promise of the throttle, checked on the memory store and, with `KAGE_TEST_POSTGRES` set to a
//! PostgreSQL server's URL, on the database store too; then what only the database store promises.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const AWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn policy(per_account: u32, per_address: u32, window: Duration) -> ThrottlePolicy {
    ThrottlePolicy { per_account_and_address: per_account, per_address, window, ..ThrottlePolicy::default() }
}

/// A new, empty database on the PostgreSQL server `KAGE_TEST_POSTGRES` names, if it names one (and this build
/// has PostgreSQL's driver).
#[cfg(not(feature = "postgres"))]
async fn fresh_postgres_url() -> Option<String> {
    None
}

/// A new, empty database on the PostgreSQL server `KAGE_TEST_POSTGRES` names, if it names one.
#[cfg(feature = "postgres")]
async fn fresh_postgres_url() -> Option<String> {
    use sqlx::Connection;
    let server = std::env::var("KAGE_TEST_POSTGRES").ok()?;
    let name = format!("throttle_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("KAGE_TEST_POSTGRES accepts connections");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database name");
    Some(format!("{base}/{name}"))
}

async fn fresh_postgres() -> Option<Database> {
    let url = fresh_postgres_url().await?;
    Some(Database::open(&url).await.expect("the database opens"))
}

/// The throttles to check a promise on, each with its store's name for failure messages.
async fn throttles(policy: ThrottlePolicy) -> Vec<(&'static str, Throttle)> {
    let mut throttles = vec![("memory", Throttle::in_memory(policy))];
    if let Some(db) = fresh_postgres().await {
        throttles.push(("postgres", Throttle::for_database(policy, &db)));
    }
    throttles
}

fn is_too_many_attempts<T>(answer: &Result<T, ApiError>) -> bool {
    matches!(answer, Err(ApiError::TooManyAttempts { .. }))
}

#[tokio::test]
async fn limit_reached_throttles_any_case_of_the_name_from_that_address_only() {
    for (store, throttle) in throttles(policy(2, 100, Duration::from_secs(60))).await {
        drop(throttle.sign_in_attempt("Main", HOME).await.unwrap());
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        assert!(is_too_many_attempts(&throttle.sign_in_attempt("MAIN", HOME).await), "{store}");
        assert!(throttle.sign_in_attempt("alt", HOME).await.is_ok(), "{store}");
        assert!(throttle.sign_in_attempt("main", AWAY).await.is_ok(), "{store}: another address is not locked out");
    }
}

#[tokio::test]
async fn one_address_is_limited_across_usernames() {
    for (store, throttle) in throttles(policy(5, 3, Duration::from_secs(60))).await {
        for name in ["a", "b", "c"] {
            drop(throttle.sign_in_attempt(name, HOME).await.unwrap());
        }
        assert!(is_too_many_attempts(&throttle.sign_in_attempt("d", HOME).await), "{store}");
        assert!(throttle.sign_in_attempt("d", AWAY).await.is_ok(), "{store}");
    }
}

#[tokio::test]
async fn a_refused_attempt_is_not_counted_and_success_gives_the_attempt_back() {
    for (store, throttle) in throttles(policy(2, 3, Duration::from_secs(60))).await {
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        assert!(throttle.sign_in_attempt("main", HOME).await.is_err(), "{store}");
        // The refusal above did not use up the address's third attempt.
        throttle.sign_in_attempt("alt", HOME).await.unwrap().succeeded().await;
        throttle.sign_in_attempt("alt", HOME).await.unwrap().succeeded().await;
        drop(throttle.sign_in_attempt("other", HOME).await.unwrap());
        assert!(
            throttle.sign_in_attempt("another", HOME).await.is_err(),
            "{store}: two failures and one more fill the address"
        );
    }
}

#[tokio::test]
async fn success_clears_the_count_of_its_name_from_its_address() {
    for (store, throttle) in throttles(policy(2, 100, Duration::from_secs(60))).await {
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        throttle.sign_in_attempt("Main", HOME).await.unwrap().succeeded().await;
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        assert!(
            throttle.sign_in_attempt("main", HOME).await.is_ok(),
            "{store}: the failure before the success is gone"
        );
    }
}

#[tokio::test]
async fn an_attempt_never_checked_is_given_back() {
    for (store, throttle) in throttles(policy(1, 1, Duration::from_secs(60))).await {
        throttle.sign_in_attempt("main", HOME).await.unwrap().not_checked().await;
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        assert!(throttle.sign_in_attempt("main", HOME).await.is_err(), "{store}");
    }
}

#[tokio::test]
async fn window_expiry_lifts_the_throttle() {
    for (store, throttle) in throttles(policy(1, 10, Duration::from_millis(300))).await {
        drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
        let refused = throttle.sign_in_attempt("main", HOME).await;
        assert!(
            matches!(refused, Err(ApiError::TooManyAttempts { retry_after_secs: 1 })),
            "{store}: under a second left rounds up to one"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(throttle.sign_in_attempt("main", HOME).await.is_ok(), "{store}");
    }
}

#[tokio::test]
async fn refreshes_come_in_bursts_per_address_and_refill_at_the_rate() {
    let policy = ThrottlePolicy { refresh_burst: 3, refresh_per_minute: 120, ..Default::default() };
    for (store, throttle) in throttles(policy).await {
        for _ in 0..3 {
            throttle.refresh_attempt(HOME).await.unwrap();
        }
        let refused = throttle.refresh_attempt(HOME).await;
        assert!(matches!(refused, Err(ApiError::TooManyRefreshes { retry_after_secs: 1 })), "{store}");
        assert!(throttle.refresh_attempt(AWAY).await.is_ok(), "{store}: another address has its own bucket");
        tokio::time::sleep(Duration::from_millis(600)).await; // 120 a minute: one back every 500 ms
        throttle.refresh_attempt(HOME).await.unwrap();
        assert!(
            throttle.refresh_attempt(HOME).await.is_err(),
            "{store}: refused attempts were not counted, none saved up"
        );
    }
}

#[tokio::test]
async fn sign_ups_are_limited_per_address() {
    let policy = ThrottlePolicy { sign_ups_per_address: 2, ..ThrottlePolicy::default() };
    for (store, throttle) in throttles(policy).await {
        throttle.sign_up_attempt(HOME).await.unwrap();
        throttle.sign_up_attempt(HOME).await.unwrap();
        let refused = throttle.sign_up_attempt(HOME).await;
        assert!(
            matches!(refused, Err(ApiError::TooManySignUps { retry_after_secs }) if retry_after_secs > 3000),
            "{store}"
        );
        assert!(throttle.sign_up_attempt(AWAY).await.is_ok(), "{store}");
    }
}

#[tokio::test]
async fn new_players_are_limited_per_issuer() {
    let policy = ThrottlePolicy { new_players_per_issuer: 2, ..ThrottlePolicy::default() };
    for (store, throttle) in throttles(policy).await {
        throttle.new_player_attempt("https://id.example").await.unwrap();
        throttle.new_player_attempt("https://id.example").await.unwrap();
        let refused = throttle.new_player_attempt("https://id.example").await;
        assert!(
            matches!(refused, Err(ApiError::TooManyNewPlayers { retry_after_secs }) if retry_after_secs > 3000),
            "{store}: {refused:?}"
        );
        assert!(throttle.new_player_attempt("https://other.example").await.is_ok(), "{store}: another provider");
    }
}

// What only the database store promises. Each test returns early, with a note, without KAGE_TEST_POSTGRES.

fn skip_without_postgres(test: &str) {
    println!("{test}: skipped, KAGE_TEST_POSTGRES is not set");
}

#[tokio::test]
async fn throttles_on_two_pools_of_one_database_count_together_even_when_racing() {
    let Some(url) = fresh_postgres_url().await else {
        return skip_without_postgres("throttles_on_two_pools_of_one_database_count_together_even_when_racing");
    };
    let policy = policy(5, 100, Duration::from_secs(60));
    // Two pools, as two server processes would have.
    let first = Throttle::for_database(policy, &Database::open(&url).await.unwrap());
    let second = Throttle::for_database(policy, &Database::open(&url).await.unwrap());
    let attempts = (0..40).map(|i| {
        let throttle = if i % 2 == 0 { &first } else { &second };
        async move { throttle.sign_in_attempt("main", HOME).await.map(drop) }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let counted = answers.iter().filter(|answer| answer.is_ok()).count();
    assert!(answers.iter().all(|answer| answer.is_ok() || is_too_many_attempts(answer)), "only 429 refusals");
    assert_eq!(counted, 5, "one limit for both");
}

#[tokio::test]
async fn a_throttle_whose_database_is_gone_refuses_instead_of_letting_attempts_through() {
    let Some(db) = fresh_postgres().await else {
        return skip_without_postgres("a_throttle_whose_database_is_gone_refuses_instead_of_letting_attempts_through");
    };
    let throttle = Throttle::for_database(ThrottlePolicy::default(), &db);
    db.writer.close().await;
    assert!(matches!(throttle.sign_in_attempt("main", HOME).await, Err(ApiError::Internal(_))));
    assert!(matches!(throttle.sign_up_attempt(HOME).await, Err(ApiError::Internal(_))));
    assert!(matches!(throttle.refresh_attempt(HOME).await, Err(ApiError::Internal(_))));
}

async fn rows(db: &Database) -> (i64, i64) {
    let count = |table: &'static str| async move {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        let (rows,): (i64,) = sqlx::query_as(sql).fetch_one(&db.reader).await.unwrap();
        rows
    };
    (count("throttle_windows").await, count("refresh_buckets").await)
}

#[tokio::test]
async fn a_sweep_forgets_windows_that_are_over_and_buckets_full_again_and_nothing_else() {
    let Some(db) = fresh_postgres().await else {
        return skip_without_postgres("a_sweep_forgets_windows_that_are_over_and_buckets_full_again_and_nothing_else");
    };
    let policy = ThrottlePolicy {
        window: Duration::from_millis(300),
        sign_up_window: Duration::from_millis(300),
        refresh_burst: 2,
        refresh_per_minute: 600, // an empty bucket of two is full again in 200 ms
        ..ThrottlePolicy::default()
    };
    let throttle = Throttle::for_database(policy, &db);
    let Store::Postgres(store) = &throttle.store else { panic!("PostgreSQL counts in the database") };
    drop(throttle.sign_in_attempt("main", HOME).await.unwrap());
    throttle.sign_up_attempt(HOME).await.unwrap();
    throttle.refresh_attempt(HOME).await.unwrap();
    throttle.refresh_attempt(HOME).await.unwrap();
    assert_eq!(rows(&db).await, (3, 1));
    assert_eq!(store.sweep().await.unwrap(), postgres::Swept { windows: 0, buckets: 0 }, "all still in use");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(store.sweep().await.unwrap(), postgres::Swept { windows: 3, buckets: 1 });
    assert_eq!(rows(&db).await, (0, 0));
}

#[tokio::test]
async fn the_database_keeps_no_username_as_typed() {
    let Some(db) = fresh_postgres().await else {
        return skip_without_postgres("the_database_keeps_no_username_as_typed");
    };
    let throttle = Throttle::for_database(ThrottlePolicy::default(), &db);
    drop(throttle.sign_in_attempt("Hunter2-typed-here", HOME).await.unwrap());
    let keys: Vec<(String,)> = sqlx::query_as("SELECT key FROM throttle_windows").fetch_all(&db.reader).await.unwrap();
    assert_eq!(keys.len(), 2, "the name's window and the address's");
    assert!(keys.iter().all(|(key,)| !key.to_lowercase().contains("hunter2")), "{keys:?}");
}
