//! Routes about the server itself: health, signing keys, how to sign in, the API description.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// Healthy unless this instance is on PostgreSQL and does not hear the others (see [`crate::cluster`]): it
/// would then miss their revocations, so a load balancer should send players elsewhere.
pub async fn healthz(State(state): State<AppState>) -> Response {
    if state.is_deaf() {
        let body = json!({ "error": "not_listening", "message": "not hearing the other instances yet" });
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(body)).into_response();
    }
    Json(json!({ "status": "ok" })).into_response()
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

/// The API description, built once at start-up (so this route table's module never reaches up to it).
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.openapi.as_ref().clone())
}
