//! The only HTTP client that talks to the game API on behalf of a window.
//!
//! Every call names a window; the window's pin names the account; the account's session supplies the token.
//! The request carries `Authorization: Bearer <that token>`, the asserted `viewer_id`, and the fail-closed
//! marker (Kage never relies on a cookie, so the server must never fall back to one). Without a token nothing
//! is sent. An answer is used only if it is about the window's account and the window is still pinned as it was
//! when the request left (I3); only then is it cached, in that account's partition.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::account::{AccountKey, WindowLabel};
use crate::cache::{ProfileCache, Stored};
use crate::model::Profile;
use crate::resends::Resends;
use crate::sessions::{AccountStatus, Sessions, TokenError};
use crate::transport::Transport;
use crate::windows::{Pin, Windows};

pub const AUTH_REQUIRED_HEADER: &str = "x-kage-auth-required";
/// Names the calling window: no credential, but it lets server logs (and tests) attribute requests.
pub const WINDOW_HEADER: &str = "x-kage-window";
/// One key per player action, the same on every try of that action, so the server carries it out once (I12).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// An answer from a gateway or load balancer standing in for a server that is down or overloaded: the account
/// is offline, not refused.
pub(crate) fn is_gateway_failure(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

fn new_idempotency_key() -> String {
    rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("this window is not signed in to an account")]
    NotPinned,
    #[error(transparent)]
    Token(TokenError),
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    /// The server refused the request; `message` is its sentence for the player.
    #[error("{message}")]
    Refused { status: u16, code: String, message: String },
    /// The answer was about another account than the window's: dropped, nothing cached (I3).
    #[error("the server answered for another account; the answer was discarded")]
    WrongAccount,
    /// The window was switched or signed out while the request was in flight: the answer was dropped (I3).
    #[error("the window changed account while this request was in flight")]
    Outdated,
    #[error("the server's answer is not valid: {0}")]
    Malformed(String),
    /// The server asked to wait (429, or 503 with `Retry-After`; at most 300 s), for this request or for the
    /// account's refresh. Nothing was cached and the account's state is unchanged: show "busy, retrying in
    /// N s", never "signed out" or "offline" (I11).
    #[error("the server asks to wait {} s before trying again", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
}

impl From<TokenError> for ClientError {
    fn from(error: TokenError) -> Self {
        match error {
            // One variant for the shell to act on, whichever request the server turned away.
            TokenError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            error => Self::Token(error),
        }
    }
}

impl ClientError {
    /// How long to wait before trying again, when the server asked for a wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// True when the account could not be reached at all: show "offline" with the cached profile.
    pub fn is_offline(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Token(TokenError::Offline(_)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Strength,
    Agility,
    Chakra,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

pub struct Client {
    transport: Arc<Transport>,
    sessions: Arc<Sessions>,
    windows: Arc<Windows>,
    cache: Arc<ProfileCache>,
}

impl Client {
    pub fn new(
        transport: Arc<Transport>,
        sessions: Arc<Sessions>,
        windows: Arc<Windows>,
        cache: Arc<ProfileCache>,
    ) -> Self {
        Self { transport, sessions, windows, cache }
    }

    pub async fn profile(&self, window: &WindowLabel) -> Result<Profile, ClientError> {
        self.call(window, Method::GET, "/v1/viewer", None).await
    }

    pub async fn train(&self, window: &WindowLabel, stat: Stat) -> Result<Profile, ClientError> {
        self.call(window, Method::POST, "/v1/viewer/train", Some(json!({ "stat": stat }))).await
    }

    pub async fn travel(&self, window: &WindowLabel, village: &str) -> Result<Profile, ClientError> {
        self.call(window, Method::POST, "/v1/viewer/travel", Some(json!({ "village": village }))).await
    }

    /// Sends ryo from the window's account to the player named `to`.
    pub async fn transfer(&self, window: &WindowLabel, to: &str, amount: i64) -> Result<Profile, ClientError> {
        self.call(window, Method::POST, "/v1/transfers", Some(json!({ "to": to, "amount": amount }))).await
    }

    /// Fetches an account's profile for no window in particular (an event said it changed) and caches it.
    pub async fn refetch_account(&self, account: &AccountKey) -> Result<Profile, ClientError> {
        let profile = self.send(None, account, &Method::GET, "/v1/viewer", None).await?;
        self.store(account, &profile)?;
        Ok(profile)
    }

    async fn call(
        &self,
        window: &WindowLabel,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Profile, ClientError> {
        let pin = self.windows.pin_of(window).ok_or(ClientError::NotPinned)?;
        let profile = self.send(Some(window), &pin.account, &method, path, body).await?;
        self.accept(window, &pin, profile)
    }

    fn accept(&self, window: &WindowLabel, pin: &Pin, profile: Profile) -> Result<Profile, ClientError> {
        if profile.id != pin.account.user_id() {
            tracing::warn!(window = %window, account = %pin.account, "answer for another account dropped");
            return Err(ClientError::WrongAccount);
        }
        if !self.windows.is_current(window, pin) {
            return Err(ClientError::Outdated);
        }
        self.store(&pin.account, &profile)?;
        Ok(profile)
    }

    fn store(&self, account: &AccountKey, profile: &Profile) -> Result<(), ClientError> {
        if profile.id != account.user_id() {
            return Err(ClientError::WrongAccount);
        }
        // Signed out while the answer was on its way: its partition stays erased. The cache asks under its
        // erase lock, because sign-out marks the account first and erases after.
        let signed_in = || self.sessions.status(account) != AccountStatus::SignedOut;
        match self.cache.put_if(account, profile, signed_in) {
            Ok(Stored::NotWanted) => Err(ClientError::Token(TokenError::SignedOut)),
            Ok(Stored::Updated | Stored::KeptNewer) => Ok(()),
            Err(error) => {
                // The answer is still right for this account; only the copy on disk is missing.
                tracing::warn!(account = %account, %error, "profile not cached");
                Ok(())
            }
        }
    }

    /// Sends with the account's token; after a 401 `invalid_token` refreshes once and tries again. A mutation
    /// carries one idempotency key for all its tries, and is sent again when its answer was lost (the server may
    /// have acted: the key makes it act at most once, I12); see [`Resends`].
    async fn send(
        &self,
        window: Option<&WindowLabel>,
        account: &AccountKey,
        method: &Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Profile, ClientError> {
        let idempotency_key = (method != Method::GET).then(new_idempotency_key);
        let mut resends = Resends::new();
        let mut retried_auth = false;
        loop {
            let token = match self.sessions.token_for(account).await {
                Ok(token) => token,
                // The previous try's answer was lost and the resend has no token yet (a refresh lost to the same
                // outage): it may still be carried out, so the window is not told it failed while resends remain.
                Err(TokenError::Offline(_)) if resends.sent_any() && resends.next().await => continue,
                Err(error) => return Err(error.into()),
            };
            // Taken per try: a proxy changed meanwhile applies from the next request on.
            let mut request = self
                .transport
                .for_account(account)
                .request(method.clone(), account.origin().url(path))
                .bearer_auth(token.secret.expose_secret())
                .header(AUTH_REQUIRED_HEADER, "1");
            if let Some(window) = window {
                request = request.header(WINDOW_HEADER, window.as_str());
            }
            if let Some(key) = &idempotency_key {
                request = request.header(IDEMPOTENCY_KEY_HEADER, key);
            }
            request = match &body {
                Some(Value::Object(fields)) => {
                    let mut fields = fields.clone();
                    fields.insert("viewer_id".into(), json!(account.user_id()));
                    request.json(&fields)
                }
                _ => request.query(&[("viewer_id", account.user_id())]),
            };
            let response = match request.send().await {
                Ok(response) => response,
                Err(_) if idempotency_key.is_some() && resends.next().await => continue,
                Err(error) => {
                    self.sessions.note_unreachable(account);
                    return Err(ClientError::Unreachable(error.without_url().to_string()));
                }
            };
            let status = response.status();
            // Checked before the gateway failures: a 503 that says when to come back is a wait, not an outage.
            if let Some(retry_after) = crate::retry_after::of_response(&response) {
                return Err(ClientError::RateLimited { retry_after });
            }
            if is_gateway_failure(status) {
                // A gateway answering for a server that failed mid-request (it crashed, say): for a mutation, the
                // server may have acted before it failed, the same as a lost answer.
                if idempotency_key.is_some() && resends.next().await {
                    continue;
                }
                self.sessions.note_unreachable(account);
                return Err(ClientError::Unreachable(format!("the server answered {status}")));
            }
            if status.is_success() {
                match response.json().await {
                    Ok(profile) => {
                        self.sessions.note_reachable(account);
                        return Ok(profile);
                    }
                    // Cut off on the way: for a mutation, the server may have acted; ask again with the same key.
                    Err(_) if idempotency_key.is_some() && resends.next().await => continue,
                    Err(error) => return Err(ClientError::Malformed(error.without_url().to_string())),
                }
            }
            self.sessions.note_reachable(account);
            let error: Option<ErrorBody> = response.json().await.ok();
            let code = error.as_ref().map(|e| e.error.as_str()).unwrap_or_default();
            if status == StatusCode::UNAUTHORIZED && code == "invalid_token" && !retried_auth {
                self.sessions.invalidate(account, &token);
                retried_auth = true;
                continue;
            }
            return Err(match error {
                Some(error) => {
                    ClientError::Refused { status: status.as_u16(), code: error.error, message: error.message }
                }
                None => ClientError::Refused {
                    status: status.as_u16(),
                    code: "unknown".into(),
                    message: format!("the server answered {status}"),
                },
            });
        }
    }
}
