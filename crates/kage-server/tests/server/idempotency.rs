//! Idempotent actions (docs/design.md, I12): with an `Idempotency-Key`, a transfer, training or travel is carried
//! out at most once however often it is retried, and the retry gets the first answer.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{Grant, TestServer, expect_error, on_postgres};

async fn act(server: &TestServer, grant: &Grant, path: &str, key: &str, value: Value) -> Response {
    let request = server.request(reqwest::Method::POST, path).bearer_auth(&grant.access_token);
    request.header("idempotency-key", key).json(&value).send().await.unwrap()
}

async fn ryo(server: &TestServer, grant: &Grant) -> i64 {
    server.profile(grant).await["ryo"].as_i64().unwrap()
}

/// Status, replay marker and body text of an answer.
async fn answer(response: Response) -> (StatusCode, bool, String) {
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (response.status(), replayed, response.text().await.unwrap())
}

#[tokio::test]
async fn same_key_replays_the_first_answer_and_acts_once() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    let (main_before, alt_before) = (ryo(&server, &main).await, ryo(&server, &alt).await);
    let transfer = json!({"to": "alt", "amount": 10});
    let (status, replayed, first) = answer(act(&server, &main, "/v1/transfers", "t-1", transfer.clone()).await).await;
    assert_eq!((status, replayed), (StatusCode::OK, false));
    // The same request again, fields reordered: the same answer, byte for byte, and nothing done.
    let reordered = json!({"amount": 10, "to": "alt"});
    let (status, replayed, again) = answer(act(&server, &main, "/v1/transfers", "t-1", reordered).await).await;
    assert_eq!((status, replayed), (StatusCode::OK, true));
    assert_eq!(again, first);
    assert_eq!((ryo(&server, &main).await, ryo(&server, &alt).await), (main_before - 10, alt_before + 10));

    for (path, value) in
        [("/v1/viewer/train", json!({"stat": "chakra"})), ("/v1/viewer/travel", json!({"village": "Sand"}))]
    {
        let first = answer(act(&server, &main, path, path, value.clone()).await).await;
        let again = answer(act(&server, &main, path, path, value).await).await;
        assert_eq!((first.0, again.0, again.1, &again.2), (StatusCode::OK, StatusCode::OK, true, &first.2), "{path}");
    }
    let profile = server.profile(&main).await;
    assert_eq!(
        (profile["xp"].as_i64(), profile["village"].as_str()),
        (Some(25), Some("Sand")),
        "trained and travelled once"
    );
    assert_eq!(profile["ryo"].as_i64().unwrap(), main_before - 10 - 20);
}

#[tokio::test]
async fn same_key_with_a_different_request_is_422_and_does_nothing() {
    let server = TestServer::start().await;
    let main = server.main().await;
    assert_eq!(
        act(&server, &main, "/v1/transfers", "k", json!({"to": "alt", "amount": 10})).await.status(),
        StatusCode::OK
    );
    let before = server.profile(&main).await;
    let other_amount = act(&server, &main, "/v1/transfers", "k", json!({"to": "alt", "amount": 11})).await;
    expect_error(other_amount, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    let other_route = act(&server, &main, "/v1/viewer/train", "k", json!({})).await;
    expect_error(other_route, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;
    assert_eq!(server.profile(&main).await, before);
}

#[tokio::test]
async fn twenty_concurrent_requests_with_one_key_apply_once() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    let (main_before, alt_before) = (ryo(&server, &main).await, ryo(&server, &alt).await);
    let value = json!({"to": "alt", "amount": 7});
    let requests = (0..20).map(|_| act(&server, &main, "/v1/transfers", "burst", value.clone()));
    let answers = futures_util::future::join_all(requests).await;
    let mut bodies = Vec::new();
    let mut fresh = 0;
    for response in answers {
        let (status, replayed, text) = answer(response).await;
        assert_eq!(status, StatusCode::OK);
        fresh += usize::from(!replayed);
        bodies.push(text);
    }
    assert_eq!(fresh, 1, "one request acted, nineteen were replays");
    assert!(bodies.iter().all(|b| *b == bodies[0]), "every answer is the first one");
    assert_eq!((ryo(&server, &main).await, ryo(&server, &alt).await), (main_before - 7, alt_before + 7));

    let trainings = (0..20).map(|_| act(&server, &main, "/v1/viewer/train", "train-burst", json!({})));
    for response in futures_util::future::join_all(trainings).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(server.profile(&main).await["xp"], 25, "trained once");
}

#[tokio::test]
async fn a_refusal_is_remembered_like_a_success() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    // alt has 250 ryo: 400 is refused.
    let first = answer(act(&server, &alt, "/v1/transfers", "big", json!({"to": "main", "amount": 400})).await).await;
    assert_eq!((first.0, first.1), (StatusCode::CONFLICT, false));
    let gift = act(&server, &main, "/v1/transfers", "gift", json!({"to": "alt", "amount": 500})).await;
    assert_eq!(gift.status(), StatusCode::OK);
    // Now alt could pay, but the retry of the refused transfer is answered as the first time, and moves nothing.
    let alt_now = ryo(&server, &alt).await;
    let again = answer(act(&server, &alt, "/v1/transfers", "big", json!({"to": "main", "amount": 400})).await).await;
    assert_eq!((again.0, again.1, &again.2), (StatusCode::CONFLICT, true, &first.2));
    assert_eq!(ryo(&server, &alt).await, alt_now);
}

#[tokio::test]
async fn keys_are_per_player() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    let main_trained = act(&server, &main, "/v1/viewer/train", "shared-key", json!({})).await;
    let alt_trained = act(&server, &alt, "/v1/viewer/train", "shared-key", json!({})).await;
    assert_eq!((answer(main_trained).await.1, answer(alt_trained).await.1), (false, false));
    assert_eq!(
        (server.profile(&main).await["xp"].clone(), server.profile(&alt).await["xp"].clone()),
        (json!(25), json!(25))
    );
}

#[tokio::test]
async fn malformed_keys_are_400_and_do_nothing() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let before = server.profile(&main).await;
    let long = "k".repeat(65);
    for bad in [&b""[..], long.as_bytes(), b"two words", b"caf\xc3\xa9"] {
        let value = reqwest::header::HeaderValue::from_bytes(bad).unwrap();
        let request = server.request(reqwest::Method::POST, "/v1/viewer/train").bearer_auth(&main.access_token);
        let response = request.header("idempotency-key", value).json(&json!({})).send().await.unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_idempotency_key").await;
    }
    let ok = act(&server, &main, "/v1/viewer/train", &"k".repeat(64), json!({})).await;
    assert_eq!(ok.status(), StatusCode::OK, "64 characters is the most");
    assert_eq!(server.profile(&main).await["xp"].as_i64(), before["xp"].as_i64().map(|xp| xp + 25));
}

#[tokio::test]
async fn a_key_is_forgotten_after_24_hours() {
    let server = TestServer::start().await;
    let main = server.main().await;
    assert_eq!(act(&server, &main, "/v1/viewer/train", "old", json!({})).await.status(), StatusCode::OK);
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - 86401")
        .execute(&server.server.state.db.writer)
        .await
        .unwrap();
    let (_, replayed, _) = answer(act(&server, &main, "/v1/viewer/train", "old", json!({})).await).await;
    assert!(!replayed, "a day-old key is a new key");
    assert_eq!(server.profile(&main).await["xp"], 50);
}

#[tokio::test]
async fn an_action_whose_key_cannot_be_recorded_is_not_applied() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let before = server.profile(&main).await;
    // The key's row cannot be written: the action in the same transaction must not stay applied either.
    let refuse = if on_postgres() {
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'full'; END $$;
         CREATE TRIGGER refuse_keys BEFORE INSERT ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION refuse();"
    } else {
        "CREATE TRIGGER refuse_keys BEFORE INSERT ON idempotency_keys BEGIN SELECT RAISE(ABORT, 'full'); END"
    };
    sqlx::raw_sql(refuse).execute(&server.server.state.db.writer).await.unwrap();
    let response = act(&server, &main, "/v1/transfers", "lost", json!({"to": "alt", "amount": 10})).await;
    expect_error(response, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    assert_eq!(server.profile(&main).await, before, "no ryo moved without its key recorded");
}

async fn settle(server: &TestServer, grant: &Grant, key: &str) -> (StatusCode, Value) {
    let request = server.request(reqwest::Method::POST, "/v1/actions/settle").bearer_auth(&grant.access_token);
    let response = request.json(&json!({ "key": key })).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn settling_a_key_whose_action_was_carried_out_or_refused_gives_its_first_answer() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    let sent = answer(act(&server, &main, "/v1/transfers", "done", json!({"to": "alt", "amount": 10})).await).await;
    let after = ryo(&server, &main).await;
    let (status, settled) = settle(&server, &main, "done").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settled["outcome"], "answered");
    assert_eq!(settled["status"], 200);
    assert_eq!(settled["answer"], serde_json::from_str::<Value>(&sent.2).unwrap(), "the first answer's body");
    assert_eq!(ryo(&server, &main).await, after, "settling does nothing to the player");

    // alt has 250 ryo: a refused transfer settles as its refusal.
    let refused = act(&server, &alt, "/v1/transfers", "too-much", json!({"to": "main", "amount": 400})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let (_, settled) = settle(&server, &alt, "too-much").await;
    assert_eq!(
        (settled["status"].as_i64(), settled["answer"]["error"].as_str()),
        (Some(409), Some("insufficient_ryo"))
    );
}

#[tokio::test]
async fn settling_a_key_no_action_arrived_with_abandons_it_for_good() {
    let server = TestServer::start().await;
    let (main, alt) = (server.main().await, server.alt().await);
    let (main_before, alt_before) = (ryo(&server, &main).await, ryo(&server, &alt).await);
    assert_eq!(settle(&server, &main, "late").await, (StatusCode::OK, json!({"outcome": "abandoned"})));
    // The action's request arrives after all (it was stuck on the way): refused, nothing done.
    let late = act(&server, &main, "/v1/transfers", "late", json!({"to": "alt", "amount": 10})).await;
    let (status, replayed, body) = answer(late).await;
    assert_eq!((status, replayed), (StatusCode::CONFLICT, true));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "action_abandoned");
    assert_eq!((ryo(&server, &main).await, ryo(&server, &alt).await), (main_before, alt_before));
    // Settling again says the same; another player's key of the same name is theirs alone.
    assert_eq!(settle(&server, &main, "late").await.1, json!({"outcome": "abandoned"}));
    let alt_sends = act(&server, &alt, "/v1/transfers", "late", json!({"to": "main", "amount": 5})).await;
    assert_eq!(alt_sends.status(), StatusCode::OK);
    assert_eq!(settle(&server, &alt, "late").await.1["outcome"], "answered");
}

#[tokio::test]
async fn an_action_and_the_settling_of_its_key_sent_at_once_agree() {
    // Twenty rounds of a transfer racing the settling of its key: either the transfer ran and settling gives its
    // answer, or settling came first and the transfer was refused; never both, never neither.
    let server = TestServer::start().await;
    let main = server.main().await;
    let before = ryo(&server, &main).await;
    let mut carried_out = 0;
    for round in 0..20 {
        let key = format!("race-{round}");
        let (sent, (_, settled)) = tokio::join!(
            act(&server, &main, "/v1/transfers", &key, json!({"to": "alt", "amount": 1})),
            settle(&server, &main, &key)
        );
        let sent = sent.status();
        match settled["outcome"].as_str() {
            Some("answered") => assert_eq!((sent, settled["status"].as_i64()), (StatusCode::OK, Some(200))),
            Some("abandoned") => assert_eq!(sent, StatusCode::CONFLICT, "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
        carried_out += i64::from(sent == StatusCode::OK);
    }
    assert_eq!(ryo(&server, &main).await, before - carried_out);
    assert_eq!(settle(&server, &main, "bad key").await.0, StatusCode::BAD_REQUEST);
}
