//! `scripts/measure-memory` runs this: what ten account windows cost, against a bare Tauri window, in one run.
//!
//! PSS of the whole process tree (the app, WebKit's network process and every web process), from
//! `/proc/<pid>/smaps_rollup`, 15 s after a direct start (not under WebDriver, whose automation session changes
//! how WebKit hands out web processes):
//!
//! - the bare window (`examples/bare_window`, same crate, Tauri build and assets) with 1 and with 10 windows;
//! - Kage restoring ten account windows, each on its own saved account, all shown;
//! - the same run, after seven of them were minimised and hibernated (2 s delay set for the bench);
//! - Kage's ten windows again with WebKit's default cache model (`KAGE_WEBKIT_CACHE_MODEL=browser`), for the
//!   cache model's share.
//!
//! Goals (issue 22): ten visible at most 700 MB, seven of ten hibernated at most 450 MB. "Open all" of ten is
//! `open_all` with `KAGE_BENCH_ACCOUNTS=10`, run by the same script. `KAGE_BENCH_PROFILE=debug` measures the
//! debug build (release by default). Needs Xvfb and an unlocked keyring; without `KAGE_E2E=1` it only says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kage_e2e::{App, GameServer, enabled, free_port, pss_kib_of_tree, report, sign_in_each, target_dir, x11};
use serde_json::json;

const ACCOUNTS: usize = 10;
const HIBERNATED: usize = 7;
const PORT: u16 = 4672;
const PASSWORD: &str = "memory-bench-password";
const SETTLE: Duration = Duration::from_secs(15);
const MB: f64 = 1000.0;

fn profile() -> String {
    std::env::var("KAGE_BENCH_PROFILE").unwrap_or_else(|_| "release".to_owned())
}

fn built(name: &str) -> PathBuf {
    target_dir().join(profile()).join(name)
}

fn player(n: usize) -> String {
    format!("mem{n}")
}

fn line(text: &str) {
    report("memory", text);
}

/// Signs the ten players in once with "remember" (saved and cached), sets the pause between windows to 0 and
/// the hibernation delay to 2 s. Returns the saved ids in roster order.
async fn prepare(kage: &Path, home: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let app = App::launch_binary(kage, home, PORT, env).await;
    let players: Vec<String> = (1..=ACCOUNTS).map(player).collect();
    let logins: Vec<(&str, &str)> = players.iter().map(|name| (name.as_str(), PASSWORD)).collect();
    let ids = sign_in_each(&app, &logins).await;
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["staggerMs"] = json!(0);
    prefs["hibernateAfterSecs"] = json!(2);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["hibernateAfterSecs"], json!(2), "set_prefs: {applied}");
    app.quit().await;
    ids
}

fn start(binary: &Path, home: &Path, env: &[(&str, &str)]) -> Child {
    Command::new(binary)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the app")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_secs(2));
}

fn web_processes_of(binary: &Path) -> usize {
    let binary = binary.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary))
        .map_or(0, kage_e2e::web_processes)
}

/// Ten windows restored, each on its account.
fn restore_ten(home: &Path, ids: &[String]) {
    let pinned: serde_json::Map<String, serde_json::Value> =
        ids.iter().enumerate().map(|(n, id)| (format!("acct-{}", n + 1), json!(id))).collect();
    std::fs::write(home.join("data/app.kage.client/windows.json"), json!({ "windows": pinned }).to_string()).unwrap();
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 * 1.024 / MB)
}

#[tokio::main]
async fn main() {
    if !enabled() || !std::env::args().any(|a| a == "--bench") {
        println!("memory: run scripts/measure-memory (needs Xvfb, a keyring, and builds of the app)");
        return;
    }
    let _ = std::fs::remove_file(kage_e2e::artifacts_dir().join("memory.txt"));
    let (kage, bare) = (built("kage"), built("examples/bare_window"));
    let server_data = tempfile::tempdir().unwrap();
    let server =
        GameServer::start_binary(&built("kage-server"), server_data.path(), free_port(), "kage-server-memory", false);
    for n in 1..=ACCOUNTS {
        server.sign_up(&player(n), PASSWORD);
    }
    let url = server.url();
    let env = [("KAGE_SERVER_URL", url.as_str())];
    let home = tempfile::tempdir().unwrap();
    let ids = prepare(&kage, home.path(), &env).await;

    let bare_home = tempfile::tempdir().unwrap();
    let mut bare_pss = Vec::new();
    for windows in ["1", "10"] {
        let child = start(&bare, bare_home.path(), &[("BARE_WINDOWS", windows)]);
        std::thread::sleep(SETTLE);
        bare_pss.push((pss_kib_of_tree(&bare), web_processes_of(&bare)));
        stop(child);
    }

    restore_ten(home.path(), &ids);
    let child = start(&kage, home.path(), &env);
    std::thread::sleep(SETTLE);
    let ten = (pss_kib_of_tree(&kage), web_processes_of(&kage));
    let mut minimised = 0;
    for n in (ACCOUNTS - HIBERNATED + 1)..=ACCOUNTS {
        minimised += usize::from(x11::minimise(&format!("{} · Kage", player(n))));
    }
    std::thread::sleep(SETTLE);
    let seven = (pss_kib_of_tree(&kage), web_processes_of(&kage));
    stop(child);

    let browser_env = [("KAGE_SERVER_URL", url.as_str()), ("KAGE_WEBKIT_CACHE_MODEL", "browser")];
    let child = start(&kage, home.path(), &browser_env);
    std::thread::sleep(SETTLE);
    let ten_browser = (pss_kib_of_tree(&kage), web_processes_of(&kage));
    stop(child);

    let verdict = |kib: u64, goal_mb: f64| if kib as f64 * 1.024 / MB <= goal_mb { "met" } else { "NOT met" };
    line(&format!(
        "memory ({} build, {} cores, Xvfb), PSS of the whole process tree:",
        profile(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    line(&format!("  bare window x1: {} kB ({}, {} web processes)", bare_pss[0].0, mb(bare_pss[0].0), bare_pss[0].1));
    line(&format!("  bare window x10: {} kB ({}, {} web processes)", bare_pss[1].0, mb(bare_pss[1].0), bare_pss[1].1));
    let against = |what: &str, (kib, processes): (u64, usize), goal_mb: f64| {
        format!(
            "  Kage, {what}: {kib} kB ({}, {processes} web processes; {:.2}x the ten bare windows; goal <= {goal_mb} MB: {})",
            mb(kib),
            kib as f64 / bare_pss[1].0 as f64,
            verdict(kib, goal_mb)
        )
    };
    line(&against("ten account windows shown", ten, 700.0));
    line(&against(&format!("{minimised} of ten minimised and hibernated"), seven, 450.0));
    line(&format!(
        "  Kage, ten shown, WebKit's default cache model: {} kB ({}, {} web processes)",
        ten_browser.0,
        mb(ten_browser.0),
        ten_browser.1
    ));
    drop(server);
    kage_e2e::clear_keychain_entries(ids.iter().map(String::as_str));
}
