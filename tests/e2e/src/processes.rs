//! The processes a test leaves and finds: a tree below a driver, SIGKILL and waiting for the end, the memory of
//! an app's whole tree, and apps an earlier test of the same run left running.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every process below `root`, children before grandchildren.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some(ppid) = parent_of(pid) {
            parents.push((pid, ppid));
        }
    }
    let mut tree = Vec::new();
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let children: Vec<u32> =
            parents.iter().filter(|(_, ppid)| frontier.contains(ppid)).map(|&(pid, _)| pid).collect();
        tree.extend(&children);
        frontier = children;
    }
    tree
}

/// `/proc/<pid>/stat` split after the parenthesised command name (which may contain spaces): state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// True while `pid` exists and is not a zombie (a killed process whose parent has not reaped it yet is gone
/// for every purpose here: its sockets, files and D-Bus names are released).
pub fn is_running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|fields| !matches!(fields.first().map(String::as_str), Some("Z" | "X")))
}

/// SIGKILL, through kill(1): nothing to catch, nothing to clean up.
pub fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
}

/// Waits until `pid` is gone (or a zombie); panics after `limit`.
pub fn wait_gone(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while is_running(pid) {
        assert!(Instant::now() < deadline, "process {pid} still running {limit:?} after SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Proportional set size (kB) of every process whose executable is `binary`, and of all their descendants
/// (WebKit's web and network processes): what the app costs in memory, shared pages split fairly.
pub fn pss_kib_of_tree(binary: &Path) -> u64 {
    pss_of_tree(binary).iter().map(|process| process.pss_kib).sum()
}

/// One process of an app's tree and its proportional set size.
#[derive(Debug, Clone)]
pub struct ProcessPss {
    pub pid: u32,
    /// The executable's file name: the app's, `WebKitWebProcess`, `WebKitNetworkProcess`.
    pub name: String,
    pub pss_kib: u64,
}

/// Each process of `binary`'s tree (see [`pss_kib_of_tree`]), the app's own first.
pub fn pss_of_tree(binary: &Path) -> Vec<ProcessPss> {
    let binary = binary.canonicalize().expect("binary path");
    let mut parents = Vec::new();
    let mut roots = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4, after the parenthesised command name (which may contain spaces).
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
        if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary) {
            roots.push(pid);
        }
    }
    let mut tree = roots.clone();
    let mut frontier = roots;
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !tree.contains(&pid) {
                tree.push(pid);
                frontier.push(pid);
            }
        }
    }
    tree.into_iter()
        .filter_map(|pid| {
            let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
            let pss_kib = rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
            let name = exe.file_name()?.to_string_lossy().into_owned();
            Some(ProcessPss { pid, name, pss_kib })
        })
        .collect()
}

/// Kills every process running `binary` that belongs to this run (its environment carries this run's
/// `KAGE_KEYRING_DIR`, set by scripts/with-keyring), and says so: an app left over by an earlier test holds the
/// single-instance name on this D-Bus session, so the next launch would hand over to it and exit, and the test
/// would wait for a WebDriver session that never comes. Processes of other runs on the machine are left alone.
pub fn stop_leftover_apps(binary: &Path) {
    let Ok(binary) = binary.canonicalize() else { return };
    let Some(run) = std::env::var_os("KAGE_KEYRING_DIR") else { return };
    let marker = [b"KAGE_KEYRING_DIR=".as_slice(), run.as_encoded_bytes()].concat();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == std::process::id() || !std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if environ.split(|byte| *byte == 0).any(|variable| variable == marker.as_slice()) && is_running(pid) {
            eprintln!("e2e: an app of an earlier test is still running (pid {pid}): stopping it before this launch");
            kill9(pid);
            wait_gone(pid, Duration::from_secs(5));
        }
    }
}

/// How many WebKit web processes (one per awake account window) run below `root`.
pub fn web_processes(root: u32) -> usize {
    descendants(root)
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .is_ok_and(|exe| exe.file_name().is_some_and(|name| name == "WebKitWebProcess"))
        })
        .count()
}
