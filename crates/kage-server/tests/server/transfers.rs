//! Ryo transfers are atomic: concurrent transfers never create or lose ryo and never go negative.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Grant, TestServer, body, expect_error};

async fn send(server: &TestServer, from: &Grant, to: &str, amount: i64) -> reqwest::Response {
    server
        .request(reqwest::Method::POST, "/v1/transfers")
        .bearer_auth(&from.access_token)
        .json(&json!({"to": to, "amount": amount}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_concurrent_transfers_conserve_ryo_and_never_go_negative() {
    let server = TestServer::start().await;
    server.sign_up("third", "third-password").await;
    let players = [
        (server.main().await, "main"),
        (server.alt().await, "alt"),
        (server.sign_in("third", "third-password").await, "third"),
    ];
    let total_before: i64 = {
        let mut sum = 0;
        for (grant, _) in &players {
            sum += server.profile(grant).await["ryo"].as_i64().unwrap();
        }
        sum
    };
    // Amounts large enough that some transfers must fail for lack of ryo, so the check-then-debit is raced.
    let tasks = (0..50).map(|i| {
        let (from, _) = &players[i % 3];
        let (_, to) = players[(i + 1 + i / 3 % 2) % 3];
        let amount = [90, 240, 400, 35, 610][i % 5];
        send(&server, from, to, amount)
    });
    let results = futures_util::future::join_all(tasks).await;
    let mut ok = 0;
    for response in results {
        match response.status() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => assert_eq!(body(response).await["error"], "insufficient_ryo"),
            other => panic!("unexpected {other}: {}", body(response).await),
        }
    }
    assert!(ok > 0, "some transfers went through");
    let mut total_after = 0;
    for (grant, name) in &players {
        let ryo = server.profile(grant).await["ryo"].as_i64().unwrap();
        assert!(ryo >= 0, "{name} went negative: {ryo}");
        total_after += ryo;
    }
    assert_eq!(total_after, total_before);
}

#[tokio::test]
async fn transfer_moves_ryo_and_bumps_both_versions() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let (main_before, alt_before) = (server.profile(&main).await, server.profile(&alt).await);
    let response = send(&server, &main, "alt", 100).await;
    assert_eq!(response.status(), StatusCode::OK);
    let sender = body(response).await;
    assert_eq!(sender["username"], "main");
    assert_eq!(sender["ryo"].as_i64().unwrap(), main_before["ryo"].as_i64().unwrap() - 100);
    let alt_after = server.profile(&alt).await;
    assert_eq!(alt_after["ryo"].as_i64().unwrap(), alt_before["ryo"].as_i64().unwrap() + 100);
    assert!(sender["version"].as_i64() > main_before["version"].as_i64());
    assert!(alt_after["version"].as_i64() > alt_before["version"].as_i64());
}

#[tokio::test]
async fn failed_transfer_writes_nothing() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let before = (server.profile(&main).await, server.profile(&alt).await);
    expect_error(send(&server, &main, "alt", 999_999).await, StatusCode::CONFLICT, "insufficient_ryo").await;
    expect_error(send(&server, &main, "nobody", 10).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(send(&server, &main, "main", 10).await, StatusCode::UNPROCESSABLE_ENTITY, "self_transfer").await;
    assert_eq!((server.profile(&main).await, server.profile(&alt).await), before);
}

#[tokio::test]
async fn train_and_travel_change_the_profile_and_its_version() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let before = server.profile(&main).await;
    let post = |path: &'static str, value: serde_json::Value| {
        server.request(reqwest::Method::POST, path).bearer_auth(&main.access_token).json(&value).send()
    };
    let trained = body(post("/v1/viewer/train", json!({"stat": "chakra"})).await.unwrap()).await;
    assert_eq!(trained["stats"]["chakra"].as_i64().unwrap(), before["stats"]["chakra"].as_i64().unwrap() + 1);
    assert_eq!(trained["stats"]["strength"], before["stats"]["strength"]);
    assert_eq!(trained["xp"].as_i64().unwrap(), before["xp"].as_i64().unwrap() + 25);
    let travelled = body(post("/v1/viewer/travel", json!({"village": "Sand"})).await.unwrap()).await;
    assert_eq!(travelled["village"], "Sand");
    assert_eq!(travelled["ryo"].as_i64().unwrap(), before["ryo"].as_i64().unwrap() - 20);
    assert!(travelled["version"].as_i64() > trained["version"].as_i64());
    expect_error(
        post("/v1/viewer/travel", json!({"village": "Sand"})).await.unwrap(),
        StatusCode::CONFLICT,
        "already_there",
    )
    .await;
    expect_error(
        post("/v1/viewer/travel", json!({"village": "Atlantis"})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_village",
    )
    .await;
    // Level follows experience: four trainings after the first make 125 xp, level 2.
    for _ in 0..4 {
        post("/v1/viewer/train", json!({})).await.unwrap();
    }
    assert_eq!(server.profile(&main).await["level"], 2);
}
