//! Routes about the server itself: health, signing keys, how to sign in, the API description.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    // Short cache: a client that meets an unknown `kid` after a rotation refetches within a minute anyway.
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(state.tokens.keys().jwks().clone()))
}

/// How a client may sign in here: passwords, an OpenID Connect provider, or both.
pub async fn auth_config(State(state): State<AppState>) -> impl IntoResponse {
    let oidc = state.oidc.as_ref().map(|provider| provider.config());
    Json(crate::oidc::AuthConfig::new(state.password_sign_in, oidc))
}

pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    Json(crate::openapi::document(state.tokens.issuer()))
}
