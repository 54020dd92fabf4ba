//! An account's sessions on its server, for the accounts panel: this computer's, the ones exported from it, and
//! any other (another computer, the game's web site); ending one, or all but this computer's (issue 17, item 3).
//!
//! Like `sign_out_account`, these take a saved account's roster id (see `accounts.rs`): the id picks an entry of
//! this computer's roster, and every request goes with that account's own token through its own route, to its
//! own server, and only when Kage may send its credential there on this run (`AppState::saved_account`).

use kage_core::server_sessions::{AccountSession, SessionsError};
use serde::Deserialize;
use tauri::State;
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::state::AppState;

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EndSessionArgs {
    pub account_id: String,
    /// The server's id of the session to end, as `account_sessions` listed it.
    pub session_id: String,
}

fn account_of(state: &AppState, account_id: &str) -> Result<kage_core::AccountKey, CommandError> {
    let entry = state
        .roster
        .find(account_id)
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, "That account is not saved here."))?;
    state.saved_account(&entry)
}

/// The account's live sessions, oldest first.
#[tauri::command]
pub async fn account_sessions(
    state: State<'_, AppState>,
    args: Args<crate::commands::accounts::SavedAccountArgs>,
) -> Result<Vec<AccountSession>, CommandError> {
    let account = account_of(&state, &args.0.account_id)?;
    Ok(state.core.sessions_of(&account).await?)
}

/// Ends one of the account's sessions (and those exported from it); returns the sessions left.
#[tauri::command]
pub async fn end_account_session(
    state: State<'_, AppState>,
    args: Args<EndSessionArgs>,
) -> Result<Vec<AccountSession>, CommandError> {
    let Args(EndSessionArgs { account_id, session_id }) = args;
    let account = account_of(&state, &account_id)?;
    state.core.end_session(&account, &session_id).await?;
    Ok(state.core.sessions_of(&account).await?)
}

/// Ends every session of the account but this computer's; returns the sessions left.
#[tauri::command]
pub async fn end_other_sessions(
    state: State<'_, AppState>,
    args: Args<crate::commands::accounts::SavedAccountArgs>,
) -> Result<Vec<AccountSession>, CommandError> {
    let account = account_of(&state, &args.0.account_id)?;
    state.core.end_other_sessions(&account).await?;
    Ok(state.core.sessions_of(&account).await?)
}

impl From<SessionsError> for CommandError {
    fn from(error: SessionsError) -> Self {
        match error {
            SessionsError::Token(error) => error.into(),
            SessionsError::Unreachable(_) => {
                Self::new(ErrorCode::Offline, "The game server cannot be reached; its sessions cannot be listed now.")
            }
            SessionsError::NotFound => Self::new(ErrorCode::NotFound, "That session has already ended."),
            SessionsError::Server { message, .. } => Self::new(ErrorCode::Refused, message),
            SessionsError::Malformed(_) => {
                Self::new(ErrorCode::BadAnswer, "The game server sent an answer Kage cannot read.")
            }
        }
    }
}
