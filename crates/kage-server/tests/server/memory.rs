//! A measurement, ignored by default: 200 concurrent sign-ins against the real `kage-server` binary, each from
//! an address of its own (so the per-address throttle lets every one through to the password work), keep the
//! server's peak resident memory (VmHWM) under 300 MB, and every request gets an answer. Figures go to
//! docs/benchmarks.md. Run it with
//! `cargo test -p kage-server --release --test server -- --ignored --nocapture concurrent_sign_ins`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SIGN_INS: u8 = 200;
const PEAK_LIMIT_KB: u64 = 300 * 1024;

/// A `VmHWM:` or `VmRSS:` line of /proc/<pid>/status, in kB.
fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|line| line.starts_with(field)).expect("the field");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/benchmarks.md; run with --ignored --nocapture"]
async fn two_hundred_concurrent_sign_ins_stay_under_300_mb_and_all_get_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kage-server"))
        .args(["--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kage-server starts");
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next_line().await.unwrap().expect("the server says where it listens");
        if let Some(url) = line.strip_prefix("kage-server listening on ") {
            break url.to_owned();
        }
    };
    let idle_kb = memory_kb(pid, "VmHWM:");

    let started = Instant::now();
    let sign_ins = (1..=SIGN_INS).map(|i| {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 1, i]))
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let url = format!("{base}/v1/sessions");
        async move {
            let response = client.post(url).json(&json!({"username": "main", "password": "main-password"})).send();
            response.await.map(|r| r.status())
        }
    });
    let answers = futures_util::future::join_all(sign_ins).await;
    let took = started.elapsed();
    let peak_kb = memory_kb(pid, "VmHWM:");
    let now_kb = memory_kb(pid, "VmRSS:");

    let count = |status: StatusCode| answers.iter().filter(|a| matches!(a, Ok(s) if *s == status)).count();
    let (created, busy, throttled) =
        (count(StatusCode::CREATED), count(StatusCode::SERVICE_UNAVAILABLE), count(StatusCode::TOO_MANY_REQUESTS));
    let unanswered: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    println!("{SIGN_INS} concurrent sign-ins from {SIGN_INS} addresses, all done in {took:?}");
    println!("answers: {created} x 201, {busy} x 503 busy, {throttled} x 429, {} without an answer", unanswered.len());
    println!(
        "server VmHWM: {} MB before, {} MB peak; VmRSS after: {} MB",
        idle_kb / 1024,
        peak_kb / 1024,
        now_kb / 1024
    );
    assert!(unanswered.is_empty(), "requests without an answer: {unanswered:?}");
    assert_eq!(created + busy + throttled, usize::from(SIGN_INS), "only 201, 503 busy or 429 are expected");
    assert!(created >= 1, "some sign-ins got through");
    assert!(peak_kb < PEAK_LIMIT_KB, "peak RSS {} MB", peak_kb / 1024);
    child.kill().await.unwrap();
}
