//! Bad input gets a 4xx JSON error with a clear message: never a 500, never a partial write.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, expect_error};

async fn raw(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let mut request = server.request(Method::POST, path).header("content-type", content_type).body(bytes);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let server = TestServer::start().await;
    let main = server.main().await;
    for path in ["/v1/sessions", "/v1/sign-up", "/v1/sessions/refresh", "/v1/sessions/revoke"] {
        let response = raw(&server, path, None, "application/json", b"{\"username\": ".to_vec()).await;
        expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    let response =
        raw(&server, "/v1/transfers", Some(&main.access_token), "application/json", b"{to: alt}".to_vec()).await;
    expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_422() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let cases = [
        ("/v1/transfers", json!({"to": "alt", "amount": "ten"}), "invalid type"),
        ("/v1/transfers", json!({"to": "alt"}), "missing field `amount`"),
        ("/v1/transfers", json!({"to": "alt", "amount": 5, "from": "alt"}), "unknown field `from`"),
        ("/v1/transfers", json!({"to": "alt", "amount": 5.5}), "invalid type"),
        ("/v1/transfers", json!({"to": "alt", "amount": 5, "viewer_id": 12}), "viewer_id must be a string"),
        ("/v1/viewer/train", json!({"stat": "luck"}), "unknown variant"),
        ("/v1/viewer/travel", json!([1, 2]), "must be a JSON object"),
    ];
    for (path, value, says) in cases {
        let response = server.request(Method::POST, path).bearer_auth(&main.access_token).json(&value).send().await;
        let message = expect_error(response.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
        assert!(message.contains(says), "{path} {value}: {message}");
    }
    let response =
        server.post_json("/v1/sessions", json!({"username": "main", "password": "main-password", "admin": true}));
    expect_error(response.await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
}

#[tokio::test]
async fn negative_zero_and_huge_amounts_are_422_and_move_nothing() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let before = server.profile(&main).await;
    for amount in [json!(-5), json!(0), json!(1_000_001), json!(i64::MAX)] {
        let response = server
            .request(Method::POST, "/v1/transfers")
            .bearer_auth(&main.access_token)
            .json(&json!({"to": "alt", "amount": amount}))
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount").await;
        assert!(message.contains("1 to 1000000"), "{message}");
    }
    // Beyond i64 is a type error, still a 422.
    let response = raw(
        &server,
        "/v1/transfers",
        Some(&main.access_token),
        "application/json",
        br#"{"to": "alt", "amount": 99999999999999999999999}"#.to_vec(),
    )
    .await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    assert_eq!(server.profile(&main).await, before);
}

#[tokio::test]
async fn usernames_and_passwords_out_of_bounds_are_422() {
    let server = TestServer::start().await;
    let long = "a".repeat(25);
    let cases = [
        (json!({"username": long, "password": "long-enough-pw"}), "invalid_username"),
        (json!({"username": "ab", "password": "long-enough-pw"}), "invalid_username"),
        (json!({"username": "bad name!", "password": "long-enough-pw"}), "invalid_username"),
        (json!({"username": "newplayer", "password": ""}), "invalid_password"),
        (json!({"username": "newplayer", "password": "short"}), "invalid_password"),
        (json!({"username": "newplayer", "password": "p".repeat(257)}), "invalid_password"),
    ];
    for (value, code) in &cases {
        let response = server.post_json("/v1/sign-up", value.clone()).await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }
    let response = server.post_json("/v1/sessions", json!({"username": "main", "password": ""})).await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_password").await;
    assert!(message.contains("empty"), "{message}");
    let response = server.post_json("/v1/sessions", json!({"username": long, "password": "x"})).await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_username").await;
}

#[tokio::test]
async fn taken_username_is_409_whatever_its_case() {
    let server = TestServer::start().await;
    let response = server.post_json("/v1/sign-up", json!({"username": "MAIN", "password": "long-enough-pw"})).await;
    expect_error(response, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn oversized_body_is_413() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let padding = "x".repeat(64 * 1024);
    let bytes = serde_json::to_vec(&json!({"username": "main", "password": padding})).unwrap();
    expect_error(
        raw(&server, "/v1/sessions", None, "application/json", bytes.clone()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    let response = raw(&server, "/v1/transfers", Some(&main.access_token), "application/json", bytes).await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn non_json_body_is_415() {
    let server = TestServer::start().await;
    let response =
        raw(&server, "/v1/sessions", None, "text/plain", br#"{"username":"main","password":"main-password"}"#.to_vec());
    expect_error(response.await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn unknown_route_and_wrong_method_are_json_errors() {
    let server = TestServer::start().await;
    let response = server.request(Method::GET, "/v1/nope").send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = server.request(Method::PUT, "/v1/viewer").send().await.unwrap();
    expect_error(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_even_with_the_right_password() {
    let server = TestServer::start().await;
    for _ in 0..5 {
        let response = server.post_json("/v1/sessions", json!({"username": "main", "password": "guess"})).await;
        expect_error(response, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
    }
    let response = server.post_json("/v1/sessions", json!({"username": "Main", "password": "main-password"})).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Unknown names are throttled the same way, so a 429 does not reveal who exists.
    for _ in 0..5 {
        server.post_json("/v1/sessions", json!({"username": "ghost", "password": "guess"})).await;
    }
    let response = server.post_json("/v1/sessions", json!({"username": "ghost", "password": "guess"})).await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").await;
    // Another player is not affected.
    server.alt().await;
}
