//! The signed-in player's own profile and the actions that change it. Each takes the [`Viewer`], whose
//! extractor has already applied the viewer guard. Actions run through [`idempotency`]: with an
//! `Idempotency-Key`, a retried action answers as the first time and does nothing again.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Viewer, ViewerJson};
use crate::db::Backend;
use crate::error::ApiError;
use crate::events::GameEvent;
use crate::game::{self, Profile, Stat, Transfer};
use crate::idempotency::{self, Claim, IdempotencyKey, Pending};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleRequest {
    key: String,
}

pub async fn profile(State(state): State<AppState>, viewer: Viewer) -> Result<Json<Profile>, ApiError> {
    game::profile(&state.db, &viewer.user_id).await.map(Json)
}

fn changed(profile: &Profile) -> Vec<GameEvent> {
    vec![GameEvent::ProfileChanged { user_id: profile.id.clone(), version: profile.version }]
}

/// Finishes the action (see [`Pending::finish`]) and announces what it changed, exactly when it commits: on
/// PostgreSQL as a row of `event_outbox` and a `NOTIFY` of its id inside its transaction, which the database
/// delivers to every instance at the commit and never for a rollback; on SQLite to this process's hub after
/// the commit.
async fn finish<T, A: serde::Serialize>(
    state: &AppState,
    mut pending: Pending,
    result: Result<T, ApiError>,
    answer: impl FnOnce(&T) -> &A,
    announce: impl FnOnce(&T) -> Vec<GameEvent>,
) -> Result<T, ApiError> {
    let events = result.as_ref().map(announce).unwrap_or_default();
    for event in &events {
        crate::cluster::outbox::announce(&state.db, pending.connection(), event).await?;
    }
    let value = pending.finish(result, StatusCode::OK, answer).await?;
    if state.db.backend() == Backend::Sqlite {
        events.into_iter().for_each(|event| state.events.publish(event));
    }
    Ok(value)
}

/// The action to run, or the remembered answer to give instead.
async fn begin<T>(state: &AppState, headers: &HeaderMap, request: &ViewerJson<T>) -> Result<Begun, ApiError> {
    let key = IdempotencyKey::from_headers(headers)?;
    Ok(match idempotency::claim(&state.db, &request.viewer.user_id, key, &request.fingerprint).await? {
        Claim::Replay(answer) => Begun::Replayed(answer.into_response()),
        Claim::Run(pending) => Begun::Run(pending),
    })
}

/// A training's or travel's answer is the new profile.
fn the_profile(profile: &Profile) -> &Profile {
    profile
}

enum Begun {
    Replayed(Response),
    Run(Pending),
}

pub async fn train(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: ViewerJson<TrainRequest>,
) -> Result<Response, ApiError> {
    let mut pending = match begin(&state, &headers, &request).await? {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Run(pending) => pending,
    };
    let result = game::train(pending.connection(), &request.viewer.user_id, request.body.stat).await;
    let profile = finish(&state, pending, result, the_profile, changed).await?;
    Ok(Json(profile).into_response())
}

pub async fn travel(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: ViewerJson<TravelRequest>,
) -> Result<Response, ApiError> {
    let mut pending = match begin(&state, &headers, &request).await? {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Run(pending) => pending,
    };
    let result = game::travel(pending.connection(), &request.viewer.user_id, &request.body.village).await;
    let profile = finish(&state, pending, result, the_profile, changed).await?;
    Ok(Json(profile).into_response())
}

/// Sends ryo to another player; answers with the sender's updated profile.
pub async fn transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: ViewerJson<TransferRequest>,
) -> Result<Response, ApiError> {
    let mut pending = match begin(&state, &headers, &request).await? {
        Begun::Replayed(answer) => return Ok(answer),
        Begun::Run(pending) => pending,
    };
    let ViewerJson { viewer, body, .. } = request;
    let result = game::transfer(pending.connection(), &viewer.user_id, &body.to, body.amount).await;
    let announce = |done: &Transfer| {
        let mut events = changed(&done.sender);
        events.push(GameEvent::TransferReceived {
            user_id: done.recipient_id.clone(),
            from: done.sender.username.clone(),
            amount: body.amount,
            version: done.recipient_version,
        });
        events.push(GameEvent::ProfileChanged { user_id: done.recipient_id.clone(), version: done.recipient_version });
        events
    };
    let done = finish(&state, pending, result, |done: &Transfer| &done.sender, announce).await?;
    Ok(Json(done.sender).into_response())
}

/// What became of the viewer's action sent with `key`; one that never arrived is abandoned for good.
pub async fn settle(
    State(state): State<AppState>,
    request: ViewerJson<SettleRequest>,
) -> Result<Json<idempotency::Settlement>, ApiError> {
    let ViewerJson { viewer, body, .. } = request;
    let key = idempotency::parse_key(&body.key)?;
    idempotency::settle(&state.db, &viewer.user_id, key).await.map(Json)
}
