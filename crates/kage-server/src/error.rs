//! The one error type every handler returns, and its wire form `{"error": code, "message": text}`.
//!
//! Codes are stable identifiers a client can branch on; messages are sentences a player can read. Internal
//! failures are logged with their cause and answered with a generic 500, so no SQL or key material leaks.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::tokens::TokenRejection;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("sign in to continue")]
    Unauthenticated,
    #[error("{0}")]
    InvalidToken(#[from] TokenRejection),
    #[error("the username or password is wrong")]
    WrongCredentials,
    #[error("this refresh token is no longer valid; sign in again")]
    InvalidGrant,
    #[error("viewer_id does not match the signed-in account")]
    ViewerMismatch,
    #[error("this server does not take passwords: sign in with its identity provider (see /v1/auth-config)")]
    PasswordSignInDisabled,
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("too many sign-ups from this address; try again in {retry_after_secs} s")]
    TooManySignUps { retry_after_secs: u64 },
    #[error("too many session refreshes from this address; try again in {retry_after_secs} s")]
    TooManyRefreshes { retry_after_secs: u64 },
    #[error("too many new players from this identity provider; try again in {retry_after_secs} s")]
    TooManyNewPlayers { retry_after_secs: u64 },
    #[error("the identity provider cannot check this token right now; try again in {retry_after_secs} s")]
    IdentityProviderUnavailable { retry_after_secs: u64 },
    #[error("at most {limit} event streams may be open per player; close one first")]
    TooManyStreams { limit: usize },
    #[error("this sandbox server answers only to {expected}")]
    MisdirectedRequest { expected: String },
    #[error("the server is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("no answer within {limit:?}; try again")]
    TimedOut { limit: std::time::Duration },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, message: message.into() }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated | Self::InvalidToken(_) | Self::WrongCredentials | Self::InvalidGrant => {
                StatusCode::UNAUTHORIZED
            }
            Self::ViewerMismatch | Self::PasswordSignInDisabled => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyAttempts { .. }
            | Self::TooManySignUps { .. }
            | Self::TooManyRefreshes { .. }
            | Self::TooManyNewPlayers { .. }
            | Self::TooManyStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MisdirectedRequest { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::Busy { .. } | Self::TimedOut { .. } | Self::IdentityProviderUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } | Self::Conflict { code, .. } => code,
            Self::Unauthenticated => "unauthenticated",
            Self::InvalidToken(_) => "invalid_token",
            Self::WrongCredentials => "wrong_credentials",
            Self::InvalidGrant => "invalid_grant",
            Self::ViewerMismatch => "viewer_mismatch",
            Self::PasswordSignInDisabled => "password_sign_in_disabled",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::TooManySignUps { .. } => "too_many_sign_ups",
            Self::TooManyRefreshes { .. } => "too_many_refreshes",
            Self::TooManyNewPlayers { .. } => "too_many_new_players",
            Self::IdentityProviderUnavailable { .. } => "identity_provider_unavailable",
            Self::TooManyStreams { .. } => "too_many_streams",
            Self::MisdirectedRequest { .. } => "misdirected_request",
            Self::Busy { .. } => "busy",
            Self::TimedOut { .. } => "timeout",
            Self::Internal(_) => "internal",
        }
    }
}

impl ApiError {
    /// The wire form, `{"error": code, "message": text}`; also what an idempotent action remembers.
    pub fn body_json(&self) -> String {
        let body = ErrorBody { error: self.code(), message: self.to_string() };
        serde_json::to_string(&body).expect("an error body serialises")
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
        }
        let status = self.status();
        let mut response = (status, [(header::CONTENT_TYPE, "application/json")], self.body_json()).into_response();
        let headers = response.headers_mut();
        match &self {
            // RFC 6750 section 3: a 401 for a bearer-protected resource names the scheme, and the error when a
            // token was presented and rejected.
            Self::Unauthenticated => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="kage""#));
            }
            Self::InvalidToken(why) => {
                let value = format!(r#"Bearer realm="kage", error="invalid_token", error_description="{why}""#);
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::TooManyAttempts { retry_after_secs }
            | Self::TooManySignUps { retry_after_secs }
            | Self::TooManyRefreshes { retry_after_secs }
            | Self::TooManyNewPlayers { retry_after_secs }
            | Self::IdentityProviderUnavailable { retry_after_secs }
            | Self::Busy { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::TimedOut { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}
