//! The signed-in player's own profile and the actions that change it. Each takes the [`Viewer`], whose
//! extractor has already applied the viewer guard.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Viewer, ViewerJson};
use crate::error::ApiError;
use crate::events::GameEvent;
use crate::game::{self, Profile, Stat};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainRequest {
    #[serde(default)]
    stat: Stat,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelRequest {
    village: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    to: String,
    amount: i64,
}

pub async fn profile(State(state): State<AppState>, viewer: Viewer) -> Result<Json<Profile>, ApiError> {
    game::profile(&state.db, &viewer.user_id).await.map(Json)
}

fn changed(state: &AppState, profile: &Profile) {
    state.events.publish(GameEvent::ProfileChanged { user_id: profile.id.clone(), version: profile.version });
}

pub async fn train(
    State(state): State<AppState>,
    request: ViewerJson<TrainRequest>,
) -> Result<Json<Profile>, ApiError> {
    let profile = game::train(&state.db, &request.viewer.user_id, request.body.stat).await?;
    changed(&state, &profile);
    Ok(Json(profile))
}

pub async fn travel(
    State(state): State<AppState>,
    request: ViewerJson<TravelRequest>,
) -> Result<Json<Profile>, ApiError> {
    let profile = game::travel(&state.db, &request.viewer.user_id, &request.body.village).await?;
    changed(&state, &profile);
    Ok(Json(profile))
}

/// Sends ryo to another player; answers with the sender's updated profile.
pub async fn transfer(
    State(state): State<AppState>,
    request: ViewerJson<TransferRequest>,
) -> Result<Json<Profile>, ApiError> {
    let ViewerJson { viewer, body } = request;
    let done = game::transfer(&state.db, &viewer.user_id, &body.to, body.amount).await?;
    changed(&state, &done.sender);
    state.events.publish(GameEvent::TransferReceived {
        user_id: done.recipient_id.clone(),
        from: done.sender.username.clone(),
        amount: body.amount,
        version: done.recipient_version,
    });
    state.events.publish(GameEvent::ProfileChanged { user_id: done.recipient_id, version: done.recipient_version });
    Ok(Json(done.sender))
}
