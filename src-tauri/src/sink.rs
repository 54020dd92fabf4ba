//! A window's live updates go through an `ipc::Channel` that window's page created: per-account data never
//! travels on Tauri's global events, which every window can hear (I7).

use kage_core::events::{WindowSink, WindowUpdate};
use tauri::ipc::Channel;
use tauri::{Runtime, WebviewWindow};

pub struct ChannelSink<R: Runtime> {
    pub channel: Channel<WindowUpdate>,
    pub window: WebviewWindow<R>,
}

impl<R: Runtime> WindowSink for ChannelSink<R> {
    fn send(&self, update: WindowUpdate) -> bool {
        if let WindowUpdate::Profile { profile } = &update {
            crate::windows::set_title(&self.window, Some(&profile.username));
        }
        self.channel.send(update).is_ok()
    }
}
