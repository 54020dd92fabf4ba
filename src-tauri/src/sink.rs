//! A window's live updates go through an `ipc::Channel` that window's page created: per-account data never
//! travels on Tauri's global events, which every window can hear (I7).

use kage_core::AccountKey;
use kage_core::events::{WindowSink, WindowUpdate};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

/// A channel message: the update and the id of the account it is about, so the page can drop anything not for
/// the account it shows.
#[derive(Debug, Clone, Serialize)]
pub struct AccountUpdate {
    pub account: String,
    #[serde(flatten)]
    pub update: WindowUpdate,
}

pub struct ChannelSink<R: Runtime> {
    pub channel: Channel<AccountUpdate>,
    pub window: WebviewWindow<R>,
}

impl<R: Runtime> WindowSink for ChannelSink<R> {
    fn send(&self, account: &AccountKey, update: WindowUpdate) -> bool {
        if let WindowUpdate::Profile { profile } = &update {
            crate::windows::set_title(&self.window, Some(&profile.username));
        }
        self.channel.send(AccountUpdate { account: account.id().to_owned(), update }).is_ok()
    }
}
