//! Everything the server writes under its data directory is its owner's alone: files 0600, directories 0700
//! (the desktop app runs the server under the player's own data directory).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::json;

use crate::support::{TestServer, body, grant, on_postgres};

fn walk(dir: &Path, found: &mut Vec<(PathBuf, bool, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        found.push((entry.path(), metadata.is_dir(), metadata.permissions().mode() & 0o777));
        if metadata.is_dir() {
            walk(&entry.path(), found);
        }
    }
}

#[tokio::test]
async fn data_dir_files_are_0600_and_directories_0700() {
    let mut data_dir = PathBuf::new();
    let server = TestServer::start_with(|config| {
        // A directory the server has to create, two levels deep.
        data_dir = config.data_dir.join("data/server");
        config.data_dir = data_dir.clone();
    })
    .await;
    // Writes, so the database's -wal and -shm files exist while the server runs.
    let main = server.main().await;
    let rotated = grant(body(server.refresh(&main.refresh_token).await).await);
    let train = server.request(Method::POST, "/v1/viewer/train").bearer_auth(&rotated.access_token).json(&json!({}));
    assert!(train.send().await.unwrap().status().is_success());

    let mut found = Vec::new();
    walk(&server.dir.path().join("data"), &mut found);
    let names: Vec<String> =
        found.iter().map(|(path, ..)| path.file_name().unwrap().to_string_lossy().into()).collect();
    // On PostgreSQL the database holds the signing keys too.
    let local_files: &[&str] =
        if on_postgres() { &[] } else { &["keys", "signing-key.der", "kage.db", "kage.db-wal", "kage.db-shm"] };
    for expected in ["server"].iter().chain(local_files) {
        assert!(names.iter().any(|name| name == expected), "{expected} exists: {names:?}");
    }
    for (path, is_dir, mode) in &found {
        let want = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:o}", path.display());
    }
    let top = std::fs::metadata(server.dir.path().join("data")).unwrap().permissions().mode() & 0o777;
    assert_eq!(top, 0o700, "parents the server created are 0700 too");
}
