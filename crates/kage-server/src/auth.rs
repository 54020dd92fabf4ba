//! Who is asking: the [`Viewer`] extractor, the only way a handler learns which player it serves.
//!
//! Authentication order (docs/design.md, I8; docs/protocol.md, "Authentication order"):
//! 1. An `Authorization` header, if present, decides alone. A valid `Bearer` API token authenticates: one of
//!    ours, or, with `--oidc-issuer`, one of that provider's (a JWT chosen by its `iss`; with introspection,
//!    any token that is not a JWT of ours, since opaque tokens name no issuer; then fully checked by
//!    [`crate::oidc`]). Anything else (another scheme, `Bearer null`, an expired, forged or foreign token)
//!    is a 401 and the cookie is not consulted.
//! 2. With no `Authorization` header, `X-Kage-Auth-Required: 1` is the client saying "I could not get my own
//!    token": the request is unauthenticated, whatever cookie the shared jar holds.
//! 3. Otherwise the browser's shared `__session` cookie is used.
//!
//! Then the session must not be revoked, and the viewer guard runs in the same extractor: a `viewer_id` in
//! the query string or JSON body that is not the token's subject is a 403 `viewer_mismatch`. Because
//! handlers can only get a `Viewer` through here, no protected route can skip the guard.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::idempotency;
use crate::tokens::{Audience, TokenRejection};

pub const SESSION_COOKIE: &str = "__session";
pub const AUTH_REQUIRED_HEADER: &str = "x-kage-auth-required";
pub const VIEWER_ID: &str = "viewer_id";
/// Largest JSON body any route accepts; every request body in the API is a few dozen bytes.
pub const BODY_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Bearer,
    Cookie,
}

#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: String,
    pub session_id: String,
    pub credential: Credential,
    /// A provider token's `iat`, when it says: a provider sign-out stops the session's tokens issued until then.
    pub issued_at: Option<i64>,
}

impl Viewer {
    fn guard(&self, asserted: &str) -> Result<(), ApiError> {
        if asserted == self.user_id { Ok(()) } else { Err(ApiError::ViewerMismatch) }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let viewer = authenticate(&parts.headers, state).await?;
        let query: Query<Vec<(String, String)>> = Query::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::bad_request("malformed_query", "the query string is not valid"))?;
        for (_, asserted) in query.0.iter().filter(|(name, _)| name == VIEWER_ID) {
            viewer.guard(asserted)?;
        }
        Ok(viewer)
    }
}

async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<Viewer, ApiError> {
    let (token, audience, credential) = if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::InvalidToken(TokenRejection::Malformed))?;
        (token, Audience::Api, Credential::Bearer)
    } else if headers.get(AUTH_REQUIRED_HEADER).is_some_and(|v| v.as_bytes() == b"1") {
        return Err(ApiError::Unauthenticated);
    } else if let Some(cookie) = session_cookie(headers) {
        (cookie, Audience::Browser, Credential::Cookie)
    } else {
        return Err(ApiError::Unauthenticated);
    };
    // The provider's tokens travel only as `Authorization: Bearer`: the shared cookie holds our tokens alone.
    if let Some(provider) = state.oidc.as_ref().filter(|_| credential == Credential::Bearer)
        && provider.claims(token, state.tokens.issuer())
    {
        let external = provider.verify(token).await?;
        if state.external_revocations.is_revoked(&external.session_id, external.issued_at) {
            return Err(TokenRejection::SessionRevoked.into());
        }
        let user_id = state
            .identities
            .player_for(
                &state.db,
                &state.throttle,
                provider.issuer(),
                &external.subject,
                external.preferred_username.as_deref(),
            )
            .await?;
        return Ok(Viewer { user_id, session_id: external.session_id, credential, issued_at: external.issued_at });
    }
    let claims = state.tokens.verify(token, audience)?;
    if state.sessions.is_revoked(&claims.sid) {
        return Err(TokenRejection::SessionRevoked.into());
    }
    // An instance that cannot hear the others' revocations asks the database instead (see `cluster`).
    if state.is_deaf() && state.sessions.check_in_database(&claims.sid).await? {
        return Err(TokenRejection::SessionRevoked.into());
    }
    Ok(Viewer { user_id: claims.sub, session_id: claims.sid, credential, issued_at: None })
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A protected route's JSON body, with its `viewer_id` (if any) checked against the [`Viewer`].
pub struct ViewerJson<T> {
    pub viewer: Viewer,
    pub body: T,
    /// What the request asks for (method, path, body without `viewer_id`): see [`idempotency::fingerprint`].
    pub fingerprint: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for ViewerJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        let mut object = read_json_object(Request::from_parts(parts, body), state).await?;
        match object.remove(VIEWER_ID) {
            None => {}
            Some(Value::String(asserted)) => viewer.guard(&asserted)?,
            Some(_) => return Err(ApiError::unprocessable("invalid_body", "viewer_id must be a string")),
        }
        let fingerprint = idempotency::fingerprint(&method, &path, &object);
        Ok(Self { viewer, body: from_object(object)?, fingerprint })
    }
}

/// A public route's JSON body, with the same size cap and error answers as [`ViewerJson`].
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let object = read_json_object(request, state).await?;
        Ok(Self(from_object(object)?))
    }
}

async fn read_json_object(request: Request, state: &AppState) -> Result<Map<String, Value>, ApiError> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: BODY_LIMIT }
        } else {
            ApiError::bad_request("unreadable_body", "the request body could not be read")
        }
    })?;
    // An action without options may be posted with no body at all.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    // Requiring the JSON type also means a cross-site form cannot post to us without a CORS preflight.
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::unprocessable("invalid_body", "the request body must be a JSON object")),
        Err(error) => {
            Err(ApiError::bad_request("malformed_json", format!("the request body is not valid JSON: {error}")))
        }
    }
}

fn from_object<T: DeserializeOwned>(object: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(object))
        .map_err(|error| ApiError::unprocessable("invalid_body", format!("the request body is not valid: {error}")))
}
