//! A real kage-server on 127.0.0.1:0 with SQLite in a temp dir, and a plain HTTP client to talk to it.
//!
//! With `KAGE_TEST_POSTGRES` set to a PostgreSQL server's URL, each test's server gets a fresh database of its
//! own there instead, so the same tests prove the PostgreSQL path (`scripts/test` runs them both ways).

use std::time::Duration;

use kage_server::{Config, RunningServer};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub struct TestServer {
    pub server: RunningServer,
    pub http: Client,
    pub dir: tempfile::TempDir,
    /// Set when the server is on PostgreSQL (`KAGE_TEST_POSTGRES`): a restart must reopen the same database.
    pub database_url: Option<String>,
}

pub struct Grant {
    pub user_id: String,
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path());
        config.demo = true;
        config.database_url = fresh_postgres_database().await;
        config.signing_key_sealing = Some(test_key_sealing());
        configure(&mut config);
        let database_url = config.database_url.clone();
        let server = kage_server::start(config).await.expect("server starts");
        // No cookie store: every credential a test sends is one it put there itself.
        let http = Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Self { server, http, dir, database_url }
    }

    /// Another server on this one's PostgreSQL database, with a data directory of its own: a second instance
    /// behind the same load balancer. `configure` should give both the same `issuer`.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Config)) -> TestServer {
        let database_url = self.database_url.clone().expect("instances share a PostgreSQL database only");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path());
        config.demo = true;
        config.database_url = Some(database_url.clone());
        config.signing_key_sealing = Some(test_key_sealing());
        configure(&mut config);
        let server = kage_server::start(config).await.expect("the second instance starts");
        let http = Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        TestServer { server, http, dir, database_url: Some(database_url) }
    }

    /// A client whose connections come from `ip` (any 127.x.y.z works on loopback): another player's address.
    pub fn client_from(&self, ip: [u8; 4]) -> Client {
        let ip = std::net::IpAddr::from(ip);
        Client::builder().local_address(ip).timeout(Duration::from_secs(30)).build().expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    pub async fn sign_up(&self, username: &str, password: &str) -> String {
        let response = self.post_json("/v1/sign-up", json!({"username": username, "password": password})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-up of {username}");
        body(response).await["user_id"].as_str().unwrap().to_owned()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Grant {
        let response = self.post_json("/v1/sessions", json!({"username": username, "password": password})).await;
        assert_eq!(response.status(), StatusCode::CREATED, "sign-in of {username}");
        grant(body(response).await)
    }

    pub async fn main(&self) -> Grant {
        self.sign_in("main", "main-password").await
    }

    pub async fn alt(&self) -> Grant {
        self.sign_in("alt", "alt-password").await
    }

    /// Signs in through the browser path and returns the `__session` cookie value.
    pub async fn browser_sign_in(&self, username: &str, password: &str) -> String {
        let response =
            self.post_json("/v1/browser/sessions", json!({"username": username, "password": password})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let pair = set_cookie.split(';').next().unwrap();
        pair.strip_prefix("__session=").expect("sets the __session cookie").to_owned()
    }

    pub async fn post_json(&self, path: &str, value: Value) -> Response {
        self.request(Method::POST, path).json(&value).send().await.expect("request")
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/v1/sessions/refresh", json!({"refresh_token": refresh_token})).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path).bearer_auth(token).send().await.expect("request")
    }

    pub async fn profile(&self, grant: &Grant) -> Value {
        let response = self.get_as("/v1/viewer", &grant.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        body(response).await
    }
}

/// The signing-key encryption key every test instance on PostgreSQL shares (as instances of one service do).
pub const TEST_SEALING_KEY: &str = "S2FnZSB0ZXN0cycgc2lnbmluZy1rZXkgc2VhbGluZyE=";

pub fn test_key_sealing() -> std::sync::Arc<kage_server::key_sealing::KeySealing> {
    std::sync::Arc::new(kage_server::key_sealing::KeySealing::from_base64(TEST_SEALING_KEY, None).expect("32 bytes"))
}

/// A new, empty database on the PostgreSQL server `KAGE_TEST_POSTGRES` names, if it names one.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::Connection;
    let server = std::env::var("KAGE_TEST_POSTGRES").ok()?;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("KAGE_TEST_POSTGRES accepts connections");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create");
    let (base, _) = server.rsplit_once('/').expect("a URL with a database name");
    Some(format!("{base}/{name}"))
}

/// Whether the tests run on PostgreSQL (`KAGE_TEST_POSTGRES`).
pub fn on_postgres() -> bool {
    std::env::var_os("KAGE_TEST_POSTGRES").is_some()
}

pub fn grant(value: Value) -> Grant {
    let field = |name: &str| value[name].as_str().unwrap_or_else(|| panic!("{name} in {value}")).to_owned();
    Grant {
        user_id: field("user_id"),
        session_id: field("session_id"),
        access_token: field("access_token"),
        refresh_token: field("refresh_token"),
    }
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
}

/// Asserts the status and the `error` code of a JSON error answer, and returns its message.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "status for expected {code}");
    let value = body(response).await;
    assert_eq!(value["error"], code, "{value}");
    let message = value["message"].as_str().expect("message").to_owned();
    assert!(!message.is_empty());
    message
}
