//! Password work is bounded: at most `concurrent` argon2 runs at once, a short queue, and 503 `busy` with
//! `Retry-After` beyond it, so a burst of sign-ins cannot pile up unbounded CPU and memory work.

use kage_server::passwords::PasswordWorkLimits;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, body};

#[tokio::test]
async fn password_work_beyond_its_bound_is_503_busy_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.password_work = PasswordWorkLimits { concurrent: 1, queue: 1 };
        // The throttle is not what this test is about.
        config.throttle.per_account_and_address = 1_000;
        config.throttle.per_address = 1_000;
    })
    .await;
    let attempts = (0..30)
        .map(|i| server.post_json("/v1/sessions", json!({"username": format!("user-{i}"), "password": "guess"})));
    let (mut checked, mut busy) = (0, 0);
    for response in futures_util::future::join_all(attempts).await {
        match response.status() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_eq!(body(response).await["error"], "busy");
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(checked >= 2 && busy >= 1, "checked {checked}, busy {busy}");
    let passwords = &server.server.state.passwords;
    assert_eq!(passwords.peak_concurrent(), 1, "never more than one argon2 run at once");
    assert!(passwords.work_memory().buffers() <= 1, "never more than one 19 MiB work buffer");
    assert_eq!(passwords.checks(), checked, "every 401 had its check, no 503 did");
    // Once the burst is over, the server answers normally.
    assert!(!server.main().await.user_id.is_empty());
}
