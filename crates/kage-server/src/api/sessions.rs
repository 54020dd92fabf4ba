//! A player's own sessions: `GET /v1/sessions` lists them (marking the caller's own and its forks),
//! `DELETE /v1/sessions/{id}` ends one (and its forks), `POST /v1/sessions/end-others` every one but the
//! caller's, so a player can end a session left signed in on another computer. All take the [`Viewer`], and
//! only ever see or touch that player's sessions: another player's session id is answered exactly like an
//! unknown one (404).

use axum::Json;
use axum::extract::{Path, State, rejection::PathRejection};
use axum::http::StatusCode;
use serde::Serialize;

use crate::AppState;
use crate::auth::Viewer;
use crate::error::ApiError;
use crate::sessions::SessionInfo;

#[derive(Serialize)]
pub struct SessionList {
    sessions: Vec<SessionInfo>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Json<SessionList>, ApiError> {
    let sessions = state.sessions.list(&viewer.user_id, &viewer.session_id).await?;
    Ok(Json(SessionList { sessions }))
}

pub async fn end(
    State(state): State<AppState>,
    viewer: Viewer,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::bad_request("malformed_path", "the session id is not valid"))?;
    if !state.sessions.revoke_own(&viewer.user_id, &id, &viewer.session_id).await? {
        return Err(ApiError::NotFound("you have no live session with this id".into()));
    }
    tracing::info!(user = %viewer.user_id, session = %id, by = %viewer.session_id, "session ended by its player");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct EndedOthers {
    /// How many live sessions were ended.
    ended: usize,
}

/// Ends every live session of the player but the calling one: other computers, exports, browsers.
pub async fn end_others(State(state): State<AppState>, viewer: Viewer) -> Result<Json<EndedOthers>, ApiError> {
    let ended = state.sessions.revoke_others(&viewer.user_id, &viewer.session_id).await?;
    tracing::info!(user = %viewer.user_id, by = %viewer.session_id, ended, "the player ended their other sessions");
    Ok(Json(EndedOthers { ended }))
}
