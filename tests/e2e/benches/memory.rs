//! `scripts/measure-memory` runs this: what ten account windows cost, against a bare Tauri window, in one run.
//!
//! PSS of the whole process tree (the app, WebKit's network process and every web process), from
//! `/proc/<pid>/smaps_rollup`, 15 s after a direct start (not under WebDriver, whose automation session changes
//! how WebKit hands out web processes):
//!
//! - the bare window (`examples/bare_window`, same crate, Tauri build and assets) with 1 and with 10 windows, and
//!   with 10 and WebKit's accelerated compositing off (`WEBKIT_DISABLE_COMPOSITING_MODE=1`), as Kage's page has it;
//! - Kage restoring ten account windows, each on its own saved account, all shown;
//! - the same run, after seven of them were minimised and hibernated (2 s delay set for the bench);
//! - Kage's ten windows again with WebKit's default cache model (`KAGE_WEBKIT_CACHE_MODEL=browser`), for the
//!   cache model's share;
//! - Kage's ten windows again with other group sizes (`KAGE_WINDOWS_PER_WEB_PROCESS`), from
//!   `KAGE_BENCH_GROUP_SIZES` (comma-separated; `1` by default: a web process per window, sharing's share);
//! - and with other environments (`KAGE_BENCH_VARIANTS`, see below), to measure a setting before adopting it.
//!
//! Goals (issue 22): ten visible at most 700 MB, seven of ten hibernated at most 450 MB. "Open all" of ten is
//! `open_all` with `KAGE_BENCH_ACCOUNTS=10`, run by the same script. `KAGE_BENCH_PROFILE=debug` measures the
//! debug build (release by default). Needs Xvfb and an unlocked keyring; without `KAGE_E2E=1` it only says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kage_e2e::{App, GameServer, enabled, free_port, pss_of_tree, report, sign_in_each, target_dir, x11};
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

/// Keeps what Kage logged in the run just stopped (which windows hibernated, unloaded, or lost a process they
/// shared) as `target/e2e/memory-<run>.log`, and starts the next run's log afresh.
fn keep_log(home: &Path, run: &str) {
    let log = home.join("data/app.kage.client/logs/Kage.log");
    let _ = std::fs::copy(&log, kage_e2e::artifacts_dir().join(format!("memory-{run}.log")));
    let _ = std::fs::remove_file(&log);
}

/// What `binary`'s process tree costs now, and each process's share of it (where the memory goes).
struct Sample {
    kib: u64,
    web_processes: usize,
    parts: String,
}

fn sample(binary: &Path) -> Sample {
    let tree = pss_of_tree(binary);
    let web: Vec<String> =
        tree.iter().filter(|process| process.name == "WebKitWebProcess").map(|process| mb(process.pss_kib)).collect();
    let others: Vec<String> = tree
        .iter()
        .filter(|process| process.name != "WebKitWebProcess")
        .map(|process| format!("{} {}", process.name, mb(process.pss_kib)))
        .collect();
    Sample {
        kib: tree.iter().map(|process| process.pss_kib).sum(),
        web_processes: web.len(),
        parts: format!("    {}; web processes: {}", others.join(", "), web.join(", ")),
    }
}

/// Starts `binary` with `env`, samples its tree once it settled, stops it, and keeps its log as `run` if it is
/// Kage (`home` holds its data).
fn measure(binary: &Path, home: &Path, env: &[(&str, &str)], run: Option<&str>) -> Sample {
    let child = start(binary, home, env);
    std::thread::sleep(SETTLE);
    let sampled = sample(binary);
    stop(child);
    if let Some(run) = run {
        keep_log(home, run);
    }
    sampled
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
    keep_log(home.path(), "prepare");

    let bare_home = tempfile::tempdir().unwrap();
    // The third: ten bare windows with accelerated compositing off, as Kage's own page has it (for_kage_page), to
    // tell that setting's share from Kage's.
    let bare_runs: [&[(&str, &str)]; 3] = [
        &[("BARE_WINDOWS", "1")],
        &[("BARE_WINDOWS", "10")],
        &[("BARE_WINDOWS", "10"), ("WEBKIT_DISABLE_COMPOSITING_MODE", "1")],
    ];
    let bare_pss: Vec<Sample> = bare_runs.iter().map(|env| measure(&bare, bare_home.path(), env, None)).collect();

    restore_ten(home.path(), &ids);
    let child = start(&kage, home.path(), &env);
    std::thread::sleep(SETTLE);
    let ten = sample(&kage);
    let titles: Vec<String> =
        ((ACCOUNTS - HIBERNATED + 1)..=ACCOUNTS).map(|n| format!("{} · Kage", player(n))).collect();
    let mut minimised = 0;
    for title in &titles {
        minimised += usize::from(x11::minimise(title));
    }
    // A window can be mapped again by the app a moment after it was unmapped behind GTK's back (seen once: one of
    // the seven stayed in sight and its group never hibernated): minimise again what is still on screen.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_secs(2));
        let shown: Vec<String> = x11::shown_windows().into_iter().map(|(_, title)| title).collect();
        for title in titles.iter().filter(|title| shown.contains(title)) {
            line(&format!("  ({title} was on screen again after its minimise: minimised again)"));
            x11::minimise(title);
        }
    }
    std::thread::sleep(SETTLE);
    let seven = sample(&kage);
    stop(child);
    keep_log(home.path(), "ten-then-seven-hibernated");

    let browser_env = [("KAGE_SERVER_URL", url.as_str()), ("KAGE_WEBKIT_CACHE_MODEL", "browser")];
    let ten_browser = measure(&kage, home.path(), &browser_env, Some("browser-cache-model"));

    // Other settings of the app, each one run of ten shown: `KAGE_BENCH_VARIANTS`, `;`-separated runs of
    // `NAME=VALUE` pairs separated by `,` (e.g. WebKit's `WEBKIT_DISABLE_COMPOSITING_MODE=1`).
    let variants = std::env::var("KAGE_BENCH_VARIANTS").unwrap_or_default();
    let mut by_variant = Vec::new();
    for variant in variants.split(';').map(str::trim).filter(|variant| !variant.is_empty()) {
        let mut variant_env: Vec<(&str, &str)> = vec![("KAGE_SERVER_URL", url.as_str())];
        variant_env.extend(variant.split(',').filter_map(|pair| pair.trim().split_once('=')));
        let run = format!("variant-{}", by_variant.len() + 1);
        by_variant.push((variant.to_owned(), measure(&kage, home.path(), &variant_env, Some(&run))));
    }

    // Other group sizes, for the share of sharing (1: a web process per window) and to choose the default by.
    let sizes = std::env::var("KAGE_BENCH_GROUP_SIZES").unwrap_or_else(|_| "1".to_owned());
    let mut by_size = Vec::new();
    for size in sizes.split(',').map(str::trim).filter(|size| !size.is_empty()) {
        let sized_env = [("KAGE_SERVER_URL", url.as_str()), ("KAGE_WINDOWS_PER_WEB_PROCESS", size)];
        let run = format!("groups-of-{size}");
        by_size.push((size.to_owned(), measure(&kage, home.path(), &sized_env, Some(&run))));
    }

    let verdict = |kib: u64, goal_mb: f64| if kib as f64 * 1.024 / MB <= goal_mb { "met" } else { "NOT met" };
    line(&format!(
        "memory ({} build, {} cores, Xvfb), PSS of the whole process tree:",
        profile(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    for (windows, bare) in ["x1", "x10", "x10 without accelerated compositing"].iter().zip(&bare_pss) {
        line(&format!(
            "  bare window {windows}: {} kB ({}, {} web processes)",
            bare.kib,
            mb(bare.kib),
            bare.web_processes
        ));
        line(&bare.parts);
    }
    let ten_bare = bare_pss[1].kib as f64;
    let against = |what: &str, sample: &Sample, goal_mb: Option<f64>| {
        let goal = goal_mb.map_or(String::new(), |goal| format!("; goal <= {goal} MB: {}", verdict(sample.kib, goal)));
        line(&format!(
            "  Kage, {what}: {} kB ({}, {} web processes; {:.2}x the ten bare windows{goal})",
            sample.kib,
            mb(sample.kib),
            sample.web_processes,
            sample.kib as f64 / ten_bare,
        ));
        line(&sample.parts);
    };
    against("ten account windows shown", &ten, Some(700.0));
    against(&format!("{minimised} of ten minimised and hibernated"), &seven, Some(450.0));
    against("ten shown, WebKit's default cache model", &ten_browser, None);
    for (variant, sample) in &by_variant {
        against(&format!("ten shown, with {variant}"), sample, None);
    }
    for (size, sample) in &by_size {
        against(&format!("ten shown, at most {size} windows per web process"), sample, None);
    }
    drop(server);
    kage_e2e::clear_keychain_entries(ids.iter().map(String::as_str));
}
