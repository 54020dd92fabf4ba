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
use serde::Deserialize;
use serde_json::{Value, json};

use crate::account::{AccountKey, WindowLabel};
use crate::actions::{Action, Outcome, Stat, UnconfirmedActions};
use crate::cache::{ProfileCache, Stored};
use crate::in_flight::InFlight;
use crate::model::{AccountProfile, Profile};
use crate::resends::Resends;
use crate::sessions::{AccountStatus, Sessions, TokenError};
use crate::transport::{IDEMPOTENCY_KEY_HEADER, Transport, WINDOW_HEADER, is_gateway_failure};
use crate::windows::{Pin, Windows};

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
    /// An action's answers were all lost after it may have reached the server: it may or may not have been
    /// carried out. Kage finds out and tells the account's windows ([`crate::actions`]).
    #[error("the server did not confirm the action; Kage is finding out whether it was carried out")]
    Unconfirmed,
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

    /// No answer to go by: after a try that may have reached the server, the action's fate is unknown.
    fn is_unanswered(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_)
                | Self::Malformed(_)
                | Self::RateLimited { .. }
                | Self::Token(TokenError::Offline(_) | TokenError::Keychain(_) | TokenError::Superseded)
        )
    }
}

/// The server's answer to settling a key (`POST /v1/actions/settle`).
#[derive(Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Settlement {
    Answered { status: u16, answer: SettledAnswer },
    Abandoned,
}

/// Of an action's first answer, only what the player is told of a refusal.
#[derive(Deserialize)]
struct SettledAnswer {
    message: Option<String>,
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
    pub unconfirmed: Arc<UnconfirmedActions>,
    in_flight: InFlight,
}

impl Client {
    pub fn new(
        transport: Arc<Transport>,
        sessions: Arc<Sessions>,
        windows: Arc<Windows>,
        cache: Arc<ProfileCache>,
    ) -> Self {
        Self { transport, sessions, windows, cache, unconfirmed: Arc::default(), in_flight: InFlight::default() }
    }

    pub async fn profile(&self, window: &WindowLabel) -> Result<Profile, ClientError> {
        self.answer(window, None).await.map(AccountProfile::into_profile)
    }

    pub async fn train(&self, window: &WindowLabel, stat: Stat) -> Result<Profile, ClientError> {
        self.answer(window, Some(Action::Train { stat })).await.map(AccountProfile::into_profile)
    }

    pub async fn travel(&self, window: &WindowLabel, village: &str) -> Result<Profile, ClientError> {
        let action = Action::Travel { village: village.to_owned() };
        self.answer(window, Some(action)).await.map(AccountProfile::into_profile)
    }

    /// Sends ryo from the window's account to the player named `to`.
    pub async fn transfer(&self, window: &WindowLabel, to: &str, amount: i64) -> Result<Profile, ClientError> {
        let action = Action::Transfer { to: to.to_owned(), amount };
        self.answer(window, Some(action)).await.map(AccountProfile::into_profile)
    }

    /// Fetches an account's profile for no window in particular (an event said it changed) and caches it.
    pub async fn refetch_account(&self, account: &AccountKey) -> Result<Profile, ClientError> {
        let _in_flight = self.in_flight.start(account);
        let profile = self.send(None, account, None).await?;
        self.store(account, &profile)?;
        Ok(profile)
    }

    /// The account's cached profile, if it is at `version` or newer (an event said the profile changed to it).
    /// An answer on its way for the account is waited for first, up to `wait`: the event may have overtaken the
    /// answer that carries the change.
    pub(crate) async fn cached_since(&self, account: &AccountKey, version: i64, wait: Duration) -> Option<Profile> {
        let cached = || self.cache.get(account).map(|cached| cached.profile).filter(|p| p.version >= version);
        if let Some(profile) = cached() {
            return Some(profile);
        }
        tokio::time::timeout(wait, self.in_flight.settled(account)).await.ok()?;
        cached()
    }

    /// Asks the server what became of the account's action sent with `key` (see [`crate::actions`]). `Err`:
    /// no answer this time; ask again later.
    pub(crate) async fn settle(&self, account: &AccountKey, key: &str) -> Result<Outcome, ClientError> {
        let token = self.sessions.token_for(account).await?;
        let body = json!({ "key": key, "viewer_id": account.user_id() });
        let response = self
            .transport
            .authorized(account, Method::POST, "/v1/actions/settle", &token.secret)
            .json(&body)
            .send()
            .await
            .map_err(|error| ClientError::Unreachable(error.without_url().to_string()))?;
        let status = response.status();
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) {
            // A server without settling: asking again would get no further.
            return Ok(Outcome::Unknown);
        }
        if !status.is_success() {
            if status == StatusCode::UNAUTHORIZED {
                // The next try refreshes first.
                self.sessions.invalidate(account, &token);
            }
            return Err(ClientError::Unreachable(format!("the server answered {status}")));
        }
        let settlement: Settlement =
            response.json().await.map_err(|error| ClientError::Malformed(error.without_url().to_string()))?;
        Ok(match settlement {
            Settlement::Abandoned => Outcome::NotDone,
            Settlement::Answered { status: 200..=299, .. } => Outcome::Done,
            Settlement::Answered { answer, .. } => {
                Outcome::Refused { message: answer.message.unwrap_or_else(|| "the server refused it".to_owned()) }
            }
        })
    }

    /// The window's profile (`action` `None`), or the window's account doing `action`, labelled with the pin's
    /// account.
    pub(crate) async fn answer(
        &self,
        window: &WindowLabel,
        action: Option<Action>,
    ) -> Result<AccountProfile, ClientError> {
        let pin = self.windows.pin_of(window).ok_or(ClientError::NotPinned)?;
        // Until the answer is cached (or refused): an event about the change it brings may wait for it.
        let _in_flight = self.in_flight.start(&pin.account);
        let profile = self.send(Some(window), &pin.account, action.as_ref()).await?;
        self.accept(window, &pin, profile)
    }

    /// I3, the one check: an answer is used (cached, shown, labelled) only if it is about the account `pin`
    /// names and the window is still pinned exactly so (epochs only grow: a switch and back is a new pin).
    fn accept(&self, window: &WindowLabel, pin: &Pin, profile: Profile) -> Result<AccountProfile, ClientError> {
        if profile.id != pin.account.user_id() {
            tracing::warn!(window = %window, account = %pin.account, "answer for another account dropped");
            return Err(ClientError::WrongAccount);
        }
        if !self.windows.is_current(window, pin) {
            return Err(ClientError::Outdated);
        }
        self.store(&pin.account, &profile)?;
        Ok(AccountProfile::new(&pin.account, profile))
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

    /// Gets the account's profile (`action` `None`) or does `action`, with the account's token. An action whose
    /// tries may all have reached the server unanswered is kept to be settled, and is [`ClientError::Unconfirmed`].
    async fn send(
        &self,
        window: Option<&WindowLabel>,
        account: &AccountKey,
        action: Option<&Action>,
    ) -> Result<Profile, ClientError> {
        let key = action.map(|_| new_idempotency_key());
        let mut maybe_acted = false;
        let result = self.send_tries(window, account, action, key.as_deref(), &mut maybe_acted).await;
        match (result, action, key) {
            (Err(error), Some(action), Some(key)) if maybe_acted && error.is_unanswered() => {
                self.unconfirmed.add(account, action.clone(), key);
                Err(ClientError::Unconfirmed)
            }
            (result, ..) => result,
        }
    }

    /// Sends with the account's token; after a 401 `invalid_token` refreshes once and tries again. An action
    /// carries one idempotency key for all its tries, and is sent again when its answer was lost (the server may
    /// have acted: the key makes it act at most once, I12); see [`Resends`]. `maybe_acted` is set when a try
    /// may have reached the server without its answer reaching here.
    async fn send_tries(
        &self,
        window: Option<&WindowLabel>,
        account: &AccountKey,
        action: Option<&Action>,
        idempotency_key: Option<&str>,
        maybe_acted: &mut bool,
    ) -> Result<Profile, ClientError> {
        let (method, path, body) = match action {
            None => (Method::GET, "/v1/viewer", None),
            Some(Action::Train { stat }) => (Method::POST, "/v1/viewer/train", Some(json!({ "stat": stat }))),
            Some(Action::Travel { village }) => {
                (Method::POST, "/v1/viewer/travel", Some(json!({ "village": village })))
            }
            Some(Action::Transfer { to, amount }) => {
                (Method::POST, "/v1/transfers", Some(json!({ "to": to, "amount": amount })))
            }
        };
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
            let mut request = self.transport.authorized(account, method.clone(), path, &token.secret);
            if let Some(window) = window {
                request = request.header(WINDOW_HEADER, window.as_str());
            }
            if let Some(key) = idempotency_key {
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
                Err(error) if idempotency_key.is_some() => {
                    // A request that never connected was not carried out; any other may have been.
                    *maybe_acted |= !error.is_connect();
                    if resends.next().await {
                        continue;
                    }
                    self.sessions.note_unreachable(account);
                    return Err(ClientError::Unreachable(error.without_url().to_string()));
                }
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
                // server may have acted before it failed, the same as a lost answer. (A 503 without Retry-After
                // is a balancer with no server up: nothing was passed on.)
                *maybe_acted |= status != StatusCode::SERVICE_UNAVAILABLE;
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
                    // Cut off on the way: for an action, the server may have acted; ask again with the same key.
                    Err(error) => {
                        *maybe_acted = true;
                        if idempotency_key.is_some() && resends.next().await {
                            continue;
                        }
                        return Err(ClientError::Malformed(error.without_url().to_string()));
                    }
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
