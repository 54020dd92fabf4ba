//! Connection hygiene: slow, silent or stalled clients are cut off by the header-read, idle and request
//! timeouts, and never delay anyone else. Raw TCP, so a test can be as slow as an attacker.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::support::TestServer;

fn timeouts(header_read: f64, request: f64, idle: f64) -> kage_server::serve::Timeouts {
    kage_server::serve::Timeouts {
        header_read: Duration::from_secs_f64(header_read),
        request: Duration::from_secs_f64(request),
        idle: Duration::from_secs_f64(idle),
    }
}

/// Reads until the server closes the connection (or resets it); returns what it sent.
async fn until_closed(reader: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Opens a connection that sends a request's head one byte a second, forever; returns when the server has
/// closed it and how long after opening.
async fn trickle_headers(addr: std::net::SocketAddr) -> Duration {
    let opened = Instant::now();
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    let writing = tokio::spawn(async move {
        for byte in head.bytes().chain(std::iter::repeat(b'a')) {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    until_closed(&mut reader).await;
    writing.abort();
    opened.elapsed()
}

async fn timed<T>(work: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let value = work.await;
    (value, started.elapsed())
}

#[tokio::test]
async fn a_hundred_slow_header_clients_neither_delay_a_normal_request_nor_hold_their_connections() {
    let server = TestServer::start_with(|config| config.timeouts = timeouts(3.0, 30.0, 60.0)).await;
    let main = server.main().await;
    let addr = server.server.addr;
    let slow: Vec<_> = (0..100).map(|_| tokio::spawn(trickle_headers(addr))).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // All hundred are connected and trickling; a normal client is served as if they were not there. Fresh
    // connections each time, so the new connection's accept is measured too.
    for _ in 0..3 {
        let client = reqwest::Client::new();
        let (health, took) = timed(client.get(server.url("/healthz")).send()).await;
        assert_eq!(health.unwrap().status(), StatusCode::OK);
        assert!(took < Duration::from_secs(1), "/healthz took {took:?} beside 100 slow clients");
        let request = client.get(server.url("/v1/viewer")).bearer_auth(&main.access_token);
        let (profile, took) = timed(request.send()).await;
        assert_eq!(profile.unwrap().status(), StatusCode::OK);
        assert!(took < Duration::from_secs(1), "an authenticated read took {took:?} beside 100 slow clients");
    }

    // And none of them keeps its connection: each is closed at the header-read timeout, not when it gives up.
    for client in slow {
        let held = tokio::time::timeout(Duration::from_secs(10), client).await.expect("closed by the server").unwrap();
        assert!(held >= Duration::from_millis(2900), "closed after {held:?}: before the header-read timeout?");
        assert!(held < Duration::from_secs(5), "held for {held:?} with a 3 s header-read timeout");
    }
}

#[tokio::test]
async fn a_silent_connection_and_an_idle_keep_alive_connection_close_at_the_header_read_timeout() {
    let server = TestServer::start_with(|config| config.timeouts = timeouts(1.0, 30.0, 60.0)).await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(server.server.addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), until_closed(&mut silent)).await;
    assert!(closed.is_ok(), "a connection that never sends a byte is closed");
    assert!(opened.elapsed() >= Duration::from_millis(900), "{:?}", opened.elapsed());

    let mut kept_alive = TcpStream::connect(server.server.addr).await.unwrap();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.server.addr);
    kept_alive.write_all(request.as_bytes()).await.unwrap();
    let answered = Instant::now();
    let received = tokio::time::timeout(Duration::from_secs(5), until_closed(&mut kept_alive)).await.unwrap();
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"), "answered first");
    let idle = answered.elapsed();
    assert!(idle >= Duration::from_millis(900) && idle < Duration::from_secs(3), "closed {idle:?} after its answer");
}

#[tokio::test]
async fn a_connection_where_nothing_moves_is_closed_at_the_idle_timeout() {
    // Headers complete (the header clock stops), a body promised and never sent, a long request clock: only
    // the idle clock can end this connection.
    let server = TestServer::start_with(|config| config.timeouts = timeouts(1.0, 60.0, 2.0)).await;
    let mut stalled = TcpStream::connect(server.server.addr).await.unwrap();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"us",
        server.server.addr
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    tokio::time::timeout(Duration::from_secs(6), until_closed(&mut stalled)).await.expect("closed by the server");
    let idle = sent.elapsed();
    assert!(idle >= Duration::from_millis(1900) && idle < Duration::from_secs(4), "closed after {idle:?}");
}

#[tokio::test]
async fn a_body_that_trickles_in_is_answered_503_timeout_at_the_request_timeout() {
    let server = TestServer::start_with(|config| config.timeouts = timeouts(5.0, 1.0, 60.0)).await;
    let stream = TcpStream::connect(server.server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        server.server.addr
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let sent = Instant::now();
    let trickling = tokio::spawn(async move {
        while writer.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("}") {
        let n = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut buffer)).await.unwrap().unwrap();
        assert!(n > 0, "closed without an answer: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    let took = sent.elapsed();
    trickling.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    assert!(answer.contains(r#""error":"timeout""#), "{answer}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "answered after {took:?}");
}
