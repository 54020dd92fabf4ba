//! The sandbox's DNS-rebinding defence: a demo server on loopback answers only its own address or localhost,
//! with its port, in `Host`; a page whose own name was made to resolve to 127.0.0.1 gets 421.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, expect_error};

async fn with_host(server: &TestServer, method: Method, path: &str, host: &str) -> reqwest::Response {
    let request = server.request(method, path).header("host", host);
    request.json(&json!({"username": "main", "password": "main-password"})).send().await.unwrap()
}

#[tokio::test]
async fn a_demo_server_refuses_foreign_host_names_with_421() {
    let server = TestServer::start().await;
    let port = server.server.addr.port();
    for (method, path) in [(Method::GET, "/healthz"), (Method::POST, "/v1/sessions"), (Method::GET, "/v1/viewer")] {
        for host in [format!("rebind.attacker.example:{port}"), format!("127.0.0.1:{}", port + 1), "127.0.0.1".into()] {
            let response = with_host(&server, method.clone(), path, &host).await;
            expect_error(response, StatusCode::MISDIRECTED_REQUEST, "misdirected_request").await;
        }
    }
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        assert_eq!(with_host(&server, Method::GET, "/healthz", &host).await.status(), StatusCode::OK, "{host}");
        let sign_in = with_host(&server, Method::POST, "/v1/sessions", &host).await;
        assert_eq!(sign_in.status(), StatusCode::CREATED, "{host}");
    }
}

#[tokio::test]
async fn a_server_outside_demo_mode_does_not_check_host_names() {
    let server = TestServer::start_with(|config| config.demo = false).await;
    let response = with_host(&server, Method::GET, "/healthz", "kage.example.com").await;
    assert_eq!(response.status(), StatusCode::OK);
}
