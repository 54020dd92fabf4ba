//! The tray icon (placeholder until the tray lands).
use tauri::{AppHandle, Runtime};
pub fn refresh<R: Runtime>(_app: &AppHandle<R>) {}
