//! Global shortcuts (placeholder until they land).
use tauri::{AppHandle, Runtime};
pub fn apply<R: Runtime>(_app: &AppHandle<R>) -> Result<(), String> {
    Ok(())
}
