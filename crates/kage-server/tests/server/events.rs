//! The event stream carries only the token's player's events and ends when the session is revoked.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Grant, TestServer};

/// A parsed Server-Sent Events stream.
pub(crate) struct EventStream {
    bytes: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventStream {
    pub(crate) async fn open(server: &TestServer, grant: &Grant) -> Self {
        Self::open_with(server, &grant.access_token, &grant.user_id).await
    }

    /// A stream opened with any bearer token (ours or the OpenID Connect provider's) of `user_id`.
    pub(crate) async fn open_with(server: &TestServer, token: &str, user_id: &str) -> Self {
        let response = server.get_as("/v1/events", token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut stream = Self { bytes: response.bytes_stream().boxed(), buffer: String::new() };
        let (name, data) = stream.next().await.expect("ready event");
        assert_eq!((name.as_str(), &data["user_id"]), ("ready", &json!(user_id)));
        stream
    }

    /// The next named event, or `None` when the server ended the stream.
    pub(crate) async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block.lines().find_map(|line| line.strip_prefix(name)).map(|v| v.trim_start().to_owned())
                };
                if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                    return Some((name, serde_json::from_str(&data).expect("JSON data")));
                }
                continue; // keep-alive comment
            }
            match self.bytes.next().await {
                Some(chunk) => self.buffer.push_str(std::str::from_utf8(&chunk.ok()?).unwrap()),
                None => return None,
            }
        }
    }

    pub(crate) async fn next_within(&mut self, limit: Duration) -> Option<Option<(String, Value)>> {
        tokio::time::timeout(limit, self.next()).await.ok()
    }
}

async fn post(server: &TestServer, grant: &Grant, path: &str, value: Value) {
    let response = server.request(Method::POST, path).bearer_auth(&grant.access_token).json(&value).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::OK, "{path}");
}

#[tokio::test]
async fn a_stream_never_carries_another_players_events() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let alt = server.alt().await;
    let mut main_events = EventStream::open(&server, &main).await;
    let mut alt_events = EventStream::open(&server, &alt).await;

    // alt acts on its own: main's stream must stay silent.
    post(&server, &alt, "/v1/viewer/train", json!({})).await;
    let (name, data) = alt_events.next().await.unwrap();
    assert_eq!((name.as_str(), data["user_id"].as_str()), ("profile.changed", Some(alt.user_id.as_str())));
    assert!(main_events.next_within(Duration::from_millis(300)).await.is_none(), "main saw alt's training");

    // main sends alt ryo: each side hears only its own half.
    post(&server, &main, "/v1/transfers", json!({"to": "alt", "amount": 7})).await;
    let (name, data) = main_events.next().await.unwrap();
    assert_eq!((name.as_str(), data["user_id"].as_str()), ("profile.changed", Some(main.user_id.as_str())));
    let (name, data) = alt_events.next().await.unwrap();
    assert_eq!(name, "transfer.received");
    assert_eq!(
        (data["user_id"].as_str(), &data["from"], &data["amount"]),
        (Some(alt.user_id.as_str()), &json!("main"), &json!(7))
    );
    let (name, data) = alt_events.next().await.unwrap();
    assert_eq!((name.as_str(), data["user_id"].as_str()), ("profile.changed", Some(alt.user_id.as_str())));
    assert!(main_events.next_within(Duration::from_millis(300)).await.is_none(), "main saw alt's events");
    assert!(alt_events.next_within(Duration::from_millis(300)).await.is_none(), "alt saw main's events");
}

#[tokio::test]
async fn revoking_the_session_ends_its_stream_only() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let other_main_session = server.main().await;
    let mut revoked = EventStream::open(&server, &main).await;
    let mut other = EventStream::open(&server, &other_main_session).await;
    let response = server.request(Method::DELETE, "/v1/sessions/current").bearer_auth(&main.access_token).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(revoked.next_within(Duration::from_secs(5)).await, Some(None), "stream ends at revocation");

    // The same player's other session keeps streaming.
    post(&server, &other_main_session, "/v1/viewer/train", json!({})).await;
    let (name, _) = other.next_within(Duration::from_secs(5)).await.flatten().expect("still streaming");
    assert_eq!(name, "profile.changed");
}

#[tokio::test]
async fn reuse_detection_ends_the_stream() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let mut stream = EventStream::open(&server, &main).await;
    let second = crate::support::grant(crate::support::body(server.refresh(&main.refresh_token).await).await);
    // Using the successor ends the first token's grace period, so presenting it again is reuse.
    assert_eq!(server.refresh(&second.refresh_token).await.status(), StatusCode::OK);
    assert_eq!(server.refresh(&main.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stream.next_within(Duration::from_secs(5)).await, Some(None));
}

#[tokio::test]
async fn revoking_by_refresh_token_ends_the_stream() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let mut stream = EventStream::open(&server, &main).await;
    let response = server.post_json("/v1/sessions/revoke", json!({"refresh_token": main.refresh_token})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stream.next_within(Duration::from_secs(5)).await, Some(None), "stream ends at revocation");
}

#[tokio::test]
async fn a_player_may_hold_sixteen_streams_and_one_more_is_429() {
    let server = TestServer::start().await;
    let main = server.main().await;
    let mut streams = Vec::new();
    for _ in 0..16 {
        streams.push(EventStream::open(&server, &main).await);
    }
    let refused = server.get_as("/v1/events", &main.access_token).await;
    crate::support::expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "too_many_streams").await;
    // The limit is per player: alt is not affected.
    let alt = server.alt().await;
    EventStream::open(&server, &alt).await;
    // Closing a stream gives its slot back (the server notices the closed connection).
    streams.pop();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let response = server.get_as("/v1/events", &main.access_token).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the closed stream's slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_event_stream_outlives_the_request_and_idle_timeouts() {
    let server = TestServer::start_with(|config| {
        config.timeouts = kage_server::serve::Timeouts {
            header_read: Duration::from_secs(5),
            request: Duration::from_secs(1),
            idle: Duration::from_millis(1500),
        }
    })
    .await;
    let main = server.main().await;
    let alt = server.alt().await;
    let mut stream = EventStream::open(&server, &main).await;
    // Quiet for three request timeouts and two idle timeouts: only keep-alive comments flow, and they suffice.
    assert_eq!(stream.next_within(Duration::from_secs(3)).await, None, "no event, and the stream is still open");
    post(&server, &alt, "/v1/transfers", json!({"to": "main", "amount": 3})).await;
    let (name, data) = stream.next_within(Duration::from_secs(2)).await.expect("in time").expect("still open");
    assert_eq!((name.as_str(), &data["amount"]), ("transfer.received", &json!(3)));
}
