//! A hook that sees every request the server answers, with the credential it carried. For tests (the core's
//! scenario tests assert on it that each window's requests carry that window's account and nothing else) and
//! for operators who want an audit trail. It records who a token names, never the token.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::AUTH_REQUIRED_HEADER;

/// What the `Authorization` header of a request held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Nothing,
    /// A bearer token's claimed subject and session (read without verification: this is a record of what was
    /// sent, valid or not). `None` when the token could not be read at all, as with `Bearer null`.
    Bearer {
        subject: Option<String>,
        session: Option<String>,
    },
    /// Another scheme, or a value that is not text.
    Other,
}

#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub authorization: Presented,
    pub cookie: bool,
    pub auth_required_marker: bool,
    /// The `X-Kage-Window` header: which window of a Kage client sent the request (not a credential; lets a
    /// test attribute requests to windows).
    pub window: Option<String>,
    pub status: u16,
}

pub type RequestObserver = Arc<dyn Fn(RequestRecord) + Send + Sync>;

pub async fn record(State(observer): State<RequestObserver>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let authorization = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        None => Presented::Nothing,
        Some(Ok(value)) => match value.strip_prefix("Bearer ") {
            Some(token) => {
                let claims = unverified_claims(token.trim());
                let claim = |name: &str| claims.as_ref().and_then(|c| c[name].as_str()).map(str::to_owned);
                Presented::Bearer { subject: claim("sub"), session: claim("sid") }
            }
            None => Presented::Other,
        },
        Some(Err(_)) => Presented::Other,
    };
    let cookie = headers.contains_key(header::COOKIE);
    let auth_required_marker = headers.contains_key(AUTH_REQUIRED_HEADER);
    let window = headers.get("x-kage-window").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    let response = next.run(request).await;
    observer(RequestRecord {
        method,
        path,
        authorization,
        cookie,
        auth_required_marker,
        window,
        status: response.status().as_u16(),
    });
    response
}

fn unverified_claims(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}
