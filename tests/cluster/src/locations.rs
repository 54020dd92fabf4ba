//! Where things are: the workspace, the kage-server debug binary, and `target/cluster/`, where every process
//! of the harness writes its log. Logs live outside the temporary directories on purpose: those are removed
//! when a test ends, and the log is what the next person needs after a red run.

use std::path::{Path, PathBuf};

use crate::HarnessError;

pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Where cargo put the builds: `CARGO_TARGET_DIR` when set (taken from the workspace root if relative, as cargo
/// does), else the workspace's `target/`. The same rule as `tests/e2e`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// The debug `kage-server`, or the one `KAGE_SERVER_BINARY` names (the cluster bench runs the release build).
/// The harness never builds it itself (a build inside a test would hold cargo's lock and take minutes): a
/// missing binary is an error that says how to build it.
pub fn kage_server_binary() -> Result<PathBuf, HarnessError> {
    let binary = match std::env::var_os("KAGE_SERVER_BINARY") {
        Some(path) => PathBuf::from(path),
        None => target_dir().join("debug/kage-server"),
    };
    if binary.is_file() { Ok(binary) } else { Err(HarnessError::ServerNotBuilt(binary)) }
}

/// `target/cluster/` of the workspace (wherever the builds are, like `target/e2e`), created on first use.
pub fn logs_dir() -> Result<PathBuf, HarnessError> {
    let dir = workspace_root().join("target/cluster");
    std::fs::create_dir_all(&dir).map_err(HarnessError::io(format!("creating {}", dir.display())))?;
    Ok(dir)
}
