//! Talking to a server's session authority: sign-in, refresh, sign-out, and checking the access tokens it
//! hands out against its published keys.
//!
//! A new access token is verified before it is used: signature by `kid` from the server's JWKS, `iss` exactly
//! the server's origin, `aud` `kage-api`, and `sub` exactly the account it is meant for. A token for anyone
//! else fails closed (threat model: issuer or key mix-up, an identity provider answering for another user).
//! Expiry is tracked from `expires_in` on the local monotonic clock, not from `exp`, so a client whose wall
//! clock is off neither rejects good tokens nor trusts dead ones for long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::account::ServerOrigin;
use crate::locks::Recover;
use crate::resends::Resends;

/// An access token checked to belong to its subject, and when to stop using it.
#[derive(Clone)]
pub struct AccessToken {
    pub secret: SecretString,
    pub subject: String,
    pub session_id: String,
    pub refresh_after: Instant,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// What a sign-in returns, verified.
pub struct Grant {
    pub access: AccessToken,
    pub refresh_token: SecretString,
}

/// What a refresh returns. The new refresh token is the server's word that the old one is spent, so it is
/// handed over even when the access token beside it fails a later check (a JWKS fetch that times out, say):
/// throwing it away would leave the client holding only a spent token (I11).
pub struct Refreshed {
    pub refresh_token: SecretString,
    pub access: Result<AccessToken, AuthError>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the username or password is wrong")]
    WrongCredentials,
    /// The server asked to be left alone for a while (429, or 503 with `Retry-After`, at most 300 s): for a
    /// sign-in, too many attempts; for a refresh, too many refreshes. Never a sign-out.
    #[error("the server asks to wait {retry_after_secs} s before trying again")]
    Throttled { retry_after_secs: u64 },
    /// The server refused the refresh credential: the only answer that means "signed out".
    #[error("the session has ended; sign in again")]
    Rejected,
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the server answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("the server's answer is not valid: {0}")]
    Malformed(String),
    /// The token is not for the account it should be, or not signed by this server: fail closed.
    #[error("the server issued a token that does not belong to this account")]
    WrongSubject,
}

impl AuthError {
    /// Network trouble, a timeout, a 5xx: worth retrying later, and never a reason to sign anyone out.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Throttled { .. } | Self::Server { status: 500.., .. })
    }
}

/// Refresh this long before the server's expiry, so a request never leaves with a token about to die.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The longest lifetime believed from a server's `expires_in`: a broken or hostile answer cannot make a token
/// live for ever (or overflow the clock).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
struct GrantBody {
    user_id: String,
    access_token: String,
    expires_in: u64,
    refresh_token: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    sid: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: String,
}

/// Every call takes the HTTP client to send with: the account's own route (its proxy, or direct), chosen by
/// the caller, so the authority never decides which network path an account's credentials take.
#[derive(Default)]
pub struct Authority {
    keys: Mutex<HashMap<ServerOrigin, JwkSet>>,
}

impl Authority {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn sign_in(
        &self,
        http: &reqwest::Client,
        origin: &ServerOrigin,
        username: &str,
        password: &SecretString,
    ) -> Result<(String, Grant), AuthError> {
        let body = json!({"username": username, "password": password.expose_secret()});
        let response = post(http, origin, "/v1/sessions", &body).await?;
        let grant: GrantBody = read_grant(response).await?;
        let user_id = grant.user_id.clone();
        let grant = self.check(http, origin, &user_id, grant).await?;
        Ok((user_id, grant))
    }

    /// Spends `refresh_token` for a new grant for `user_id`. `Err` means no new refresh token was received.
    ///
    /// The server rotates the token before it answers, so when the answer is lost (the connection drops after
    /// the request left, the grant is cut off, the request times out, a gateway answers 502 or 504 for a
    /// server that died mid-request) the token sent may be spent. The server's grace period answers the same
    /// token again with the same successor (docs/protocol.md), so it is sent again ([`Resends`]) rather than
    /// turning the account "offline" over a refresh that worked (I11). A request that never connected spent
    /// nothing and is not resent: a server that is down shows as offline at once.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        origin: &ServerOrigin,
        user_id: &str,
        refresh_token: &SecretString,
    ) -> Result<Refreshed, AuthError> {
        let body = json!({"refresh_token": refresh_token.expose_secret()});
        let mut resends = Resends::new();
        let mut grant = loop {
            match refresh_once(http, origin, &body).await {
                Ok(grant) => break grant,
                Err(RefreshFailed { answer_lost: true, .. }) if resends.next().await => continue,
                Err(RefreshFailed { error, .. }) => return Err(error),
            }
        };
        if grant.user_id != user_id {
            // Not this account's grant at all: nothing of it may be kept under this account.
            return Err(AuthError::WrongSubject);
        }
        let refresh_token = SecretString::from(std::mem::take(&mut grant.refresh_token));
        let access = self.check(http, origin, user_id, grant).await.map(|grant| grant.access);
        Ok(Refreshed { refresh_token, access })
    }

    /// Forks the session of `access` on the server: a new, independent session of the same player, whose
    /// refresh token is returned (for another computer; its access token is not needed here and is dropped).
    /// `proof` is the session's live refresh token: the server mints a fork only for whoever holds it too.
    pub async fn fork(
        &self,
        http: &reqwest::Client,
        origin: &ServerOrigin,
        user_id: &str,
        access: &AccessToken,
        proof: &SecretString,
    ) -> Result<SecretString, AuthError> {
        let response = http
            .post(origin.url("/v1/sessions/fork"))
            .bearer_auth(access.secret.expose_secret())
            .header(crate::transport::AUTH_REQUIRED_HEADER, "1")
            .json(&json!({"refresh_token": proof.expose_secret()}))
            .send()
            .await
            .map_err(unreachable)?;
        let grant = read_grant(response).await?;
        if grant.user_id != user_id {
            return Err(AuthError::WrongSubject);
        }
        Ok(SecretString::from(grant.refresh_token))
    }

    /// Ends the session of `refresh_token` on the server (RFC 7009 style: no access token needed, so this works
    /// when the access token has expired). Falls back to ending the access token's session on a server that has
    /// no revocation route. Best effort: a sign-out works locally whatever this returns.
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        origin: &ServerOrigin,
        refresh_token: Option<&SecretString>,
        access: Option<&AccessToken>,
    ) -> Result<(), AuthError> {
        revoke(http, origin, refresh_token, access).await
    }

    async fn check(
        &self,
        http: &reqwest::Client,
        origin: &ServerOrigin,
        user_id: &str,
        grant: GrantBody,
    ) -> Result<Grant, AuthError> {
        let received = Instant::now();
        let claims = self.verify(http, origin, &grant.access_token).await?;
        if claims.sub != user_id {
            return Err(AuthError::WrongSubject);
        }
        Ok(Grant {
            access: AccessToken {
                secret: SecretString::from(grant.access_token),
                subject: claims.sub,
                session_id: claims.sid,
                refresh_after: refresh_after(received, grant.expires_in),
            },
            refresh_token: SecretString::from(grant.refresh_token),
        })
    }

    async fn verify(&self, http: &reqwest::Client, origin: &ServerOrigin, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed("access token".into()))?;
        let kid = header.kid.ok_or(AuthError::WrongSubject)?;
        let key = match self.key(origin, &kid) {
            Some(key) => key,
            None => {
                // Unknown kid: the server may have rotated its key. Fetch once; still unknown means not its token.
                self.fetch_keys(http, origin).await?;
                self.key(origin, &kid).ok_or(AuthError::WrongSubject)?
            }
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[origin.as_str()]);
        validation.set_audience(&["kage-api"]);
        validation.validate_exp = false; // see the module doc: expiry runs on the local monotonic clock
        validation.set_required_spec_claims(&["iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|_| AuthError::WrongSubject)
    }

    fn key(&self, origin: &ServerOrigin, kid: &str) -> Option<DecodingKey> {
        let keys = self.keys.lock().recover();
        keys.get(origin)?.find(kid).and_then(|jwk| DecodingKey::from_jwk(jwk).ok())
    }

    async fn fetch_keys(&self, http: &reqwest::Client, origin: &ServerOrigin) -> Result<(), AuthError> {
        let response = http.get(origin.url("/.well-known/jwks.json")).send().await.map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(error_of(response.status().as_u16(), response).await);
        }
        let set: JwkSet = response.json().await.map_err(|e| AuthError::Malformed(e.without_url().to_string()))?;
        self.keys.lock().recover().insert(origin.clone(), set);
        Ok(())
    }
}

/// [`Authority::revoke`], for callers that hold no authority (a sign-out retried in the background).
pub async fn revoke(
    http: &reqwest::Client,
    origin: &ServerOrigin,
    refresh_token: Option<&SecretString>,
    access: Option<&AccessToken>,
) -> Result<(), AuthError> {
    if let Some(refresh_token) = refresh_token {
        let body = json!({"refresh_token": refresh_token.expose_secret()});
        let response = post(http, origin, "/v1/sessions/revoke", &body).await?;
        match response.status().as_u16() {
            200 | 204 => return Ok(()),
            404 | 405 if access.is_some() => {}
            status => return Err(error_of(status, response).await),
        }
    }
    let Some(access) = access else { return Ok(()) };
    let response = http
        .delete(origin.url("/v1/sessions/current"))
        .bearer_auth(access.secret.expose_secret())
        .send()
        .await
        .map_err(unreachable)?;
    match response.status().as_u16() {
        204 => Ok(()),
        status => Err(error_of(status, response).await),
    }
}

async fn post(
    http: &reqwest::Client,
    origin: &ServerOrigin,
    path: &str,
    body: &serde_json::Value,
) -> Result<reqwest::Response, AuthError> {
    http.post(origin.url(path)).json(body).send().await.map_err(unreachable)
}

async fn read_grant(response: reqwest::Response) -> Result<GrantBody, AuthError> {
    let status = response.status().as_u16();
    if status != 200 && status != 201 {
        return Err(error_of(status, response).await);
    }
    response.json().await.map_err(|e| AuthError::Malformed(e.without_url().to_string()))
}

/// When to stop using a token received at `received` that the server says lives `expires_in` seconds.
pub(crate) fn refresh_after(received: Instant, expires_in: u64) -> Instant {
    let lifetime = Duration::from_secs(expires_in).min(MAX_LIFETIME).saturating_sub(EXPIRY_MARGIN);
    received.checked_add(lifetime).unwrap_or(received)
}

/// A refresh that did not bring a grant, and whether the server may have rotated the token all the same.
struct RefreshFailed {
    error: AuthError,
    answer_lost: bool,
}

async fn refresh_once(
    http: &reqwest::Client,
    origin: &ServerOrigin,
    body: &serde_json::Value,
) -> Result<GrantBody, RefreshFailed> {
    let response = match http.post(origin.url("/v1/sessions/refresh")).json(body).send().await {
        Ok(response) => response,
        Err(error) => return Err(RefreshFailed { answer_lost: !error.is_connect(), error: unreachable(error) }),
    };
    let success = response.status().is_success();
    read_grant(response).await.map_err(|error| {
        let answer_lost = match &error {
            AuthError::Server { status: 502 | 504, .. } => true,
            // The server had rotated the token before this grant was cut off on its way.
            AuthError::Malformed(_) => success,
            _ => false,
        };
        RefreshFailed { error, answer_lost }
    })
}

fn unreachable(error: reqwest::Error) -> AuthError {
    AuthError::Unreachable(error.without_url().to_string())
}

async fn error_of(status: u16, response: reqwest::Response) -> AuthError {
    // A 429, or a 503 that says when to come back: wait, and the credential is as good as it was (I11).
    if let Some(wait) = crate::retry_after::of_response(&response) {
        return AuthError::Throttled { retry_after_secs: wait.as_secs().max(1) };
    }
    let body: Option<ErrorBody> = response.json().await.ok();
    match (status, body) {
        (401, Some(body)) if body.error == "wrong_credentials" => AuthError::WrongCredentials,
        (401, Some(body)) if body.error == "invalid_grant" => AuthError::Rejected,
        (status, Some(body)) => AuthError::Server { status, message: body.message },
        (status, None) => AuthError::Server { status, message: "no details".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_expires_in_cannot_panic_or_make_a_token_live_for_ever() {
        let now = Instant::now();
        assert_eq!(refresh_after(now, u64::MAX), now + MAX_LIFETIME - EXPIRY_MARGIN);
        assert_eq!(refresh_after(now, 0), now, "a token already due is refreshed before use");
        assert_eq!(refresh_after(now, 60), now + Duration::from_secs(50));
    }
}
