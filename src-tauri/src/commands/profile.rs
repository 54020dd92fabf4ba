//! The window's own profile and live updates.

use std::sync::Arc;

use kage_core::core::AccountProfile;
use serde::Deserialize;
use tauri::ipc::JavaScriptChannelId;
use tauri::{Runtime, State, WebviewWindow};
use ts_rs::TS;

use super::{WindowState, window_state_of};
use crate::contract::Args;
use crate::error::CommandError;
use crate::sink::{AccountUpdate, ChannelSink};
use crate::state::AppState;
use crate::windows::label_of;

/// What to paint first: the window's account, its state and its cached profile, without waiting on the network.
#[tauri::command]
pub async fn window_state<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
) -> Result<WindowState, CommandError> {
    Ok(window_state_of(&state, &window, None))
}

/// The page's channel for its account's updates.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeArgs {
    #[ts(type = "Channel<AccountUpdate>")]
    pub on_update: JavaScriptChannelId,
}

/// The page's channel for "names on screen changed".
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WatchDisplayArgs {
    #[ts(type = "Channel<boolean>")]
    pub on_change: JavaScriptChannelId,
}

/// Connects this window's channel: its account's live updates arrive there, and nowhere else.
#[tauri::command]
pub async fn subscribe<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<SubscribeArgs>,
) -> Result<(), CommandError> {
    let channel = args.0.on_update.channel_on::<R, AccountUpdate>(window.as_ref().clone());
    let sink = ChannelSink { channel, window: window.clone() };
    state.core.events.attach(&label_of(&window), Arc::new(sink));
    Ok(())
}

/// Connects this window's channel for "names on screen changed": streamer mode turned on in one window must
/// reach every other page at once, sign-in screens and open panels included.
#[tauri::command]
pub async fn watch_display<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<WatchDisplayArgs>,
) -> Result<(), CommandError> {
    state.watch_display(window.label(), args.0.on_change.channel_on(window.as_ref().clone()));
    Ok(())
}

/// The window's profile, fresh from the server, labelled with the account it is for.
#[tauri::command]
pub async fn refresh_profile<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
) -> Result<AccountProfile, CommandError> {
    Ok(state.present(state.core.profile(&label_of(&window)).await?))
}
