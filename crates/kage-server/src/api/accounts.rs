//! Sign-up, sign-in, refresh and sign-out: the session authority's routes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::AppState;
use crate::auth::{Credential, JsonBody, SESSION_COOKIE, Viewer, ViewerJson};
use crate::client_addr::ClientAddress;
use crate::error::ApiError;
use crate::game::{self, STARTING_RYO, VILLAGES};
use crate::revocation::Cascade;
use crate::secret::Secret;
use crate::sessions::{RevokeReason, SessionKind};
use crate::tokens::Audience;

pub const USERNAME_MAX: usize = 24;
pub const PASSWORD_MIN: usize = 8;
/// argon2 time grows with input; a cap keeps one request from costing more than any other.
pub const PASSWORD_MAX: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsernamePassword {
    username: String,
    password: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: Secret,
}

#[derive(Serialize)]
pub struct SignedUp {
    user_id: String,
    username: String,
}

#[derive(Serialize)]
pub struct SessionGrant {
    session_id: String,
    user_id: String,
    token_type: &'static str,
    access_token: Secret,
    expires_in: u64,
    refresh_token: Secret,
}

#[derive(Serialize)]
pub struct BrowserSession {
    session_id: String,
    user_id: String,
}

fn validate_username(username: &str) -> Result<(), ApiError> {
    let valid_chars = username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if username.len() < 3 || username.len() > USERNAME_MAX || !valid_chars {
        return Err(ApiError::unprocessable(
            "invalid_username",
            format!("a username is 3 to {USERNAME_MAX} characters: letters, digits, '_' or '-'"),
        ));
    }
    Ok(())
}

fn validate_password_length(password: &Secret, min: usize) -> Result<(), ApiError> {
    let len = password.expose().chars().count();
    if len == 0 {
        return Err(ApiError::unprocessable("invalid_password", "the password must not be empty"));
    }
    if len < min || len > PASSWORD_MAX {
        return Err(ApiError::unprocessable(
            "invalid_password",
            format!("a password is {min} to {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

pub async fn sign_up(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(request): JsonBody<UsernamePassword>,
) -> Result<(StatusCode, Json<SignedUp>), ApiError> {
    password_sign_in_open(&state)?;
    validate_username(&request.username)?;
    validate_password_length(&request.password, PASSWORD_MIN)?;
    state.throttle.sign_up_attempt(address).await?;
    let hash = state.passwords.hash(request.password).await?;
    let profile = game::create_player(&state.db, &request.username, &hash, VILLAGES[0], STARTING_RYO).await?;
    tracing::info!(user = %profile.id, "player signed up");
    Ok((StatusCode::CREATED, Json(SignedUp { user_id: profile.id, username: profile.username })))
}

/// With `--no-password-sign-in`, players sign in only through the identity provider.
fn password_sign_in_open(state: &AppState) -> Result<(), ApiError> {
    if state.password_sign_in { Ok(()) } else { Err(ApiError::PasswordSignInDisabled) }
}

/// Checks a username and password. The attempt is counted by the throttle before any password work, and
/// given back only if it succeeds. Unknown user and wrong password give the same error after the same work.
async fn check_password(
    state: &AppState,
    address: std::net::IpAddr,
    request: UsernamePassword,
) -> Result<String, ApiError> {
    password_sign_in_open(state)?;
    validate_username(&request.username)?;
    validate_password_length(&request.password, 1)?;
    let attempt = state.throttle.sign_in_attempt(&request.username, address).await?;
    let stored = game::credentials(&state.db, &request.username).await?;
    let user_id = stored.as_ref().map(|c| c.user_id.clone());
    match state.passwords.verify(request.password, stored.map(|c| c.password_hash)).await {
        Ok(true) => {
            attempt.succeeded().await;
            Ok(user_id.expect("a verified password belongs to a known user"))
        }
        Ok(false) => Err(ApiError::WrongCredentials),
        Err(busy @ ApiError::Busy { .. }) => {
            attempt.not_checked().await;
            Err(busy)
        }
        Err(error) => Err(error),
    }
}

fn grant(
    state: &AppState,
    session_id: String,
    user_id: String,
    refresh_token: Secret,
    session_ends: OffsetDateTime,
) -> SessionGrant {
    let access = state.tokens.issue(&user_id, &session_id, Audience::Api, unix_seconds(session_ends));
    SessionGrant {
        session_id,
        user_id,
        token_type: "Bearer",
        access_token: Secret::new(access.token),
        expires_in: access.expires_in,
        refresh_token,
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(request): JsonBody<UsernamePassword>,
) -> Result<(StatusCode, Json<SessionGrant>), ApiError> {
    let user_id = check_password(&state, address, request).await?;
    let session = state.sessions.create(&user_id, SessionKind::Api).await?;
    tracing::info!(user = %user_id, session = %session.id, "signed in");
    let refresh = session.refresh_token.expect("API sessions have refresh tokens");
    Ok((StatusCode::CREATED, Json(grant(&state, session.id, user_id, refresh, session.ends_at))))
}

pub async fn refresh(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<Json<SessionGrant>, ApiError> {
    state.throttle.refresh_attempt(address).await?;
    let rotated = state.sessions.rotate(&request.refresh_token).await?;
    if rotated.replayed {
        tracing::info!(session = %rotated.session_id, "spent refresh token presented again within grace; same successor");
    } else {
        tracing::debug!(session = %rotated.session_id, "refreshed");
    }
    Ok(Json(grant(&state, rotated.session_id, rotated.user_id, rotated.refresh_token, rotated.ends_at)))
}

/// Forks the calling session: a new, independent session of the same player with its own refresh token,
/// answered like a sign-in. For moving an account to another computer without the two sharing one
/// refresh-token family (rotation would sign one of them out). Bearer only: a cookie is ambient, and a request
/// a page did not mean to send must not mint a credential. The body proves the calling session's refresh
/// token too (its live one, not spent): an access token alone, a minute's credential sent with every request,
/// must not become a session of months. Ending the calling session ends the fork with it.
pub async fn fork(
    State(state): State<AppState>,
    request: ViewerJson<RefreshRequest>,
) -> Result<(StatusCode, Json<SessionGrant>), ApiError> {
    let ViewerJson { viewer, body: request, .. } = request;
    if viewer.credential != Credential::Bearer {
        return Err(ApiError::Unauthenticated);
    }
    let session = state.sessions.fork(&viewer.user_id, &viewer.session_id, &request.refresh_token).await?;
    tracing::info!(user = %viewer.user_id, session = %session.id, from = %viewer.session_id, "session forked");
    let refresh = session.refresh_token.expect("forked sessions have refresh tokens");
    Ok((StatusCode::CREATED, Json(grant(&state, session.id, viewer.user_id, refresh, session.ends_at))))
}

/// RFC 7009-style revocation: whoever holds a refresh token may end its session, without an access token (the
/// app signing out offline-then-online, or a player revoking a lost device's saved token). The answer is 200
/// whether or not the token was known, spent or already revoked, so it tells a guesser nothing.
pub async fn revoke(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    if state.sessions.revoke_by_refresh_token(&request.refresh_token).await? {
        tracing::info!("session revoked by its refresh token");
    }
    Ok(StatusCode::OK)
}

pub async fn sign_out(State(state): State<AppState>, viewer: Viewer) -> Result<Response, ApiError> {
    if crate::oidc::revocations::is_external(&viewer.session_id) {
        state.external_revocations.revoke(&viewer.session_id).await?;
    } else {
        state
            .sessions
            .revoke(&viewer.session_id, RevokeReason::SignedOut, Cascade::WithForks { sparing: None })
            .await?;
    }
    tracing::info!(user = %viewer.user_id, session = %viewer.session_id, "signed out");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if viewer.credential == Credential::Cookie {
        let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
        response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&expired).expect("ASCII"));
    }
    Ok(response)
}

/// The web client's sign-in: the session rides in the `__session` cookie that all of a browser's tabs share.
/// Kept so the reference server reproduces the environment of the bug Kage exists to prevent.
pub async fn browser_sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonBody(request): JsonBody<UsernamePassword>,
) -> Result<Response, ApiError> {
    let user_id = check_password(&state, address, request).await?;
    let session = state.sessions.create(&user_id, SessionKind::Browser).await?;
    let session_id = session.id;
    let cookie = state.tokens.issue(&user_id, &session_id, Audience::Browser, unix_seconds(session.ends_at));
    let secure = if state.tokens.issuer().starts_with("https://") { "; Secure" } else { "" };
    let set_cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie.token, cookie.expires_in
    );
    let mut response = (StatusCode::CREATED, Json(BrowserSession { session_id, user_id })).into_response();
    let value = HeaderValue::from_str(&set_cookie).map_err(ApiError::internal)?;
    response.headers_mut().insert(header::SET_COOKIE, value);
    Ok(response)
}

/// A session's end as the whole second tokens are capped at (never past the end itself).
fn unix_seconds(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp()).unwrap_or(0)
}
