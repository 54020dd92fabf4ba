//! `settings.json` in the app data dir: what the player configured by hand (today only `server_url`, see the
//! README). Kage only reads it. tauri-plugin-store, which used to read it, also wrote every store it had opened
//! back on exit with a plain `fs::write`: a file with a typo in it was replaced by `{}`, and a crash during exit
//! could leave it truncated. Here a file Kage cannot read is reported to the player and left exactly as it is.

use std::io;
use std::path::Path;

use serde::Deserialize;

const SETTINGS_FILE: &str = "settings.json";

#[derive(Debug, Default, Deserialize)]
struct Settings {
    server_url: Option<String>,
}

/// The configured server, if any; `Err` is a sentence for the player (the file is then ignored, untouched).
pub fn configured_server(data_dir: &Path) -> Result<Option<String>, String> {
    let bytes = match std::fs::read(data_dir.join(SETTINGS_FILE)) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("Kage could not read {SETTINGS_FILE} ({error}); it was left as it is.")),
    };
    let settings: Settings = serde_json::from_slice(&bytes).map_err(|error| {
        format!(
            "Kage could not read {SETTINGS_FILE} (line {}, column {}); it was left as it is, and no server from it \
             is used until it is fixed.",
            error.line(),
            error.column()
        )
    })?;
    Ok(settings.server_url.filter(|url| !url.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn the_configured_server_is_read_and_a_missing_file_means_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(configured_server(dir.path()), Ok(None));
        fs::write(dir.path().join(SETTINGS_FILE), br#"{"server_url": "https://game.example", "other": 1}"#).unwrap();
        assert_eq!(configured_server(dir.path()), Ok(Some("https://game.example".into())));
        fs::write(dir.path().join(SETTINGS_FILE), br#"{"server_url": "  "}"#).unwrap();
        assert_eq!(configured_server(dir.path()), Ok(None));
    }

    #[test]
    fn a_settings_file_with_a_typo_is_reported_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let typo = b"{\"server_url\": \"https://game.example\",}\n";
        fs::write(dir.path().join(SETTINGS_FILE), typo).unwrap();
        let notice = configured_server(dir.path()).unwrap_err();
        assert!(notice.starts_with("Kage could not read settings.json (line 1, column"), "{notice}");
        assert_eq!(fs::read(dir.path().join(SETTINGS_FILE)).unwrap(), typo);
    }
}
