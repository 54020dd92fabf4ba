//! An account's sessions as its server lists them (`GET /v1/sessions`), for the accounts panel: this computer,
//! the sessions exported from it (forks), and every other; ending one (`DELETE /v1/sessions/{id}`, which ends
//! its forks too) or every one but this computer's (`POST /v1/sessions/end-others`).
//!
//! Each call goes with the account's own token and through the account's own route (I1), and its errors are
//! typed, so the shell can say what happened in a sentence.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::account::AccountKey;
use crate::authority::AccessToken;
use crate::sessions::TokenError;
use crate::transport::Transport;

/// One of the account's live sessions on its server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AccountSession {
    /// The server's session id: what [`crate::Core::end_session`] takes.
    pub id: String,
    /// `api` (an app, such as Kage) or `browser` (the game's web site).
    pub kind: String,
    pub created_at: String,
    /// The sign-in or the latest refresh.
    pub last_used_at: String,
    /// When the session ends unless refreshed (or ended) first.
    pub expires_at: String,
    pub relation: SessionRelation,
}

/// How a session stands to this computer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SessionRelation {
    /// This computer's own session ("this computer").
    Current,
    /// Exported from this computer, or from an export of it ("exported"): ended with it.
    Fork,
    /// Any other: another computer's sign-in, a browser.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionsError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    #[error("that session has already ended")]
    NotFound,
    #[error("the server answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("the server's answer is not valid: {0}")]
    Malformed(String),
}

impl SessionsError {
    /// The server refused the access token: the caller refreshes and tries once more.
    pub(crate) fn is_stale_token(&self) -> bool {
        matches!(self, Self::Server { status: 401, .. })
    }
}

#[derive(Deserialize)]
struct SessionList {
    sessions: Vec<AccountSession>,
}

#[derive(Deserialize)]
struct EndedOthers {
    ended: usize,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

pub(crate) async fn list(
    transport: &Transport,
    account: &AccountKey,
    access: &AccessToken,
) -> Result<Vec<AccountSession>, SessionsError> {
    let response = send(transport, account, access, Method::GET, "/v1/sessions").await?;
    let list: SessionList = response.json().await.map_err(|e| SessionsError::Malformed(e.without_url().to_string()))?;
    Ok(list.sessions)
}

pub(crate) async fn end(
    transport: &Transport,
    account: &AccountKey,
    access: &AccessToken,
    session_id: &str,
) -> Result<(), SessionsError> {
    // The server's ids are UUIDs: anything else cannot be one of its sessions (and never goes into a path).
    if session_id.is_empty() || !session_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(SessionsError::NotFound);
    }
    match send(transport, account, access, Method::DELETE, &format!("/v1/sessions/{session_id}")).await {
        Err(SessionsError::Server { status: 404, .. }) => Err(SessionsError::NotFound),
        answer => answer.map(drop),
    }
}

pub(crate) async fn end_others(
    transport: &Transport,
    account: &AccountKey,
    access: &AccessToken,
) -> Result<usize, SessionsError> {
    let response = send(transport, account, access, Method::POST, "/v1/sessions/end-others").await?;
    let ended: EndedOthers =
        response.json().await.map_err(|e| SessionsError::Malformed(e.without_url().to_string()))?;
    Ok(ended.ended)
}

async fn send(
    transport: &Transport,
    account: &AccountKey,
    access: &AccessToken,
    method: Method,
    path: &str,
) -> Result<reqwest::Response, SessionsError> {
    let response = transport
        .authorized(account, method, path, &access.secret)
        .send()
        .await
        .map_err(|e| SessionsError::Unreachable(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response);
    }
    let message = response.json::<ErrorBody>().await.map_or_else(|_| "no details".into(), |body| body.message);
    Err(SessionsError::Server { status, message })
}
