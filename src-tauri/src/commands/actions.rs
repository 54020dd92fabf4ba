//! What a player does with the window's account. Inputs are checked here, and only here: the page asks
//! `check_transfer` before its confirmation step, so a bad amount gets the same clear sentence without a round
//! trip to the server, and the page holds no copy of the rules. Each action runs at most once at a time per
//! window.

use kage_core::actions::Stat;
use kage_core::core::AccountProfile;
use serde::Deserialize;
use tauri::{Runtime, State, WebviewWindow};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::CommandError;
use crate::state::AppState;
use crate::windows::label_of;

#[derive(Deserialize, TS)]
pub struct TrainArgs {
    pub stat: Stat,
}

#[derive(Deserialize, TS)]
pub struct TravelArgs {
    pub village: String,
}

/// The amount arrives as the player typed it, so that every bad input gets the same clear answer.
#[derive(Deserialize, TS)]
pub struct TransferArgs {
    pub to: String,
    #[ts(type = "string | number")]
    pub amount: serde_json::Value,
}

impl TransferArgs {
    /// The recipient as typed (trimmed) and the amount, or why they cannot be sent.
    fn checked(&self) -> Result<(&str, i64), CommandError> {
        let to = self.to.trim();
        if to.is_empty() {
            return Err(CommandError::invalid("Enter the name of the player to send ryo to."));
        }
        Ok((to, parse_amount(&self.amount)?))
    }
}

#[tauri::command]
pub async fn train<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<TrainArgs>,
) -> Result<AccountProfile, CommandError> {
    let Args(TrainArgs { stat }) = args;
    let label = label_of(&window);
    state.once(&label, "train", async { Ok(state.present(state.core.train(&label, stat).await?)) }).await
}

#[tauri::command]
pub async fn travel<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<TravelArgs>,
) -> Result<AccountProfile, CommandError> {
    let Args(TravelArgs { village }) = args;
    if village.trim().is_empty() {
        return Err(CommandError::invalid("Choose a village to travel to."));
    }
    let label = label_of(&window);
    state.once(&label, "travel", async { Ok(state.present(state.core.travel(&label, village.trim()).await?)) }).await
}

/// Checks a transfer as [`transfer`] will, sending nothing: the page asks before it shows "Send N ryo to X?".
#[tauri::command]
pub async fn check_transfer(args: Args<TransferArgs>) -> Result<(), CommandError> {
    args.0.checked().map(drop)
}

/// Sends ryo to another player.
#[tauri::command]
pub async fn transfer<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<TransferArgs>,
) -> Result<AccountProfile, CommandError> {
    let (to, amount) = args.0.checked()?;
    // On stream the player sends to their own accounts by alias, so their usernames stay off screen.
    let to = state.alias_to_username(to).unwrap_or_else(|| to.to_owned());
    let to = to.as_str();
    let label = label_of(&window);
    state.once(&label, "transfer", async { Ok(state.present(state.core.transfer(&label, to, amount).await?)) }).await
}

fn parse_amount(value: &serde_json::Value) -> Result<i64, CommandError> {
    let text = match value {
        serde_json::Value::String(text) => text.trim().to_owned(),
        other => other.to_string(),
    };
    match text.parse::<i64>() {
        Ok(amount) if amount > 0 => Ok(amount),
        Ok(_) => Err(CommandError::invalid("The amount must be at least 1 ryo.")),
        Err(_) => Err(CommandError::invalid("The amount must be a whole number of ryo.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_must_be_positive_whole_numbers() {
        assert_eq!(parse_amount(&json!(25)), Ok(25));
        assert_eq!(parse_amount(&json!(" 40 ")), Ok(40));
        for bad in [json!(0), json!(-5), json!("-1")] {
            assert!(parse_amount(&bad).unwrap_err().message.contains("at least 1"), "{bad}");
        }
        for bad in [json!("ten"), json!(2.5), json!(""), json!(null), json!("99999999999999999999")] {
            assert!(parse_amount(&bad).unwrap_err().message.contains("whole number"), "{bad}");
        }
    }
}
