//! `cargo bench -p kage-core`: what Kage's guarantees cost per request.
//!
//! 1. The same profile read through `Client` (window -> pin -> token -> request -> subject and epoch checks ->
//!    cache) and through a bare reqwest call with a fixed `Authorization` header, against the same in-process
//!    server, one request at a time, interleaved in rounds. Target (issue 3): ratio of medians at most 1.10.
//! 2. The refresh storm: 200 concurrent calls from 6 windows of 2 accounts whose tokens are all due; it must
//!    cost exactly 2 refreshes. Prints calls, refreshes and latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kage_core::model::Profile;
use kage_core::vault::{CredentialStore, MemoryStore};
use kage_core::{AccountKey, Core, CoreConfig, ExposeSecret, SecretString, ServerOrigin, WindowLabel};

const ROUNDS: usize = 20;
const PER_ROUND: usize = 250;

async fn server(configure: impl FnOnce(&mut kage_server::Config)) -> (kage_server::RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = kage_server::Config::new(dir.path());
    config.demo = true;
    configure(&mut config);
    (kage_server::start(config).await.expect("server"), dir)
}

fn core(dir: &std::path::Path) -> Core {
    Core::new(CoreConfig::new(dir), Arc::new(MemoryStore::default()) as Arc<dyn CredentialStore>)
}

async fn sign_in(core: &Core, origin: &ServerOrigin, window: &str, username: &str) -> AccountKey {
    let password = SecretString::from(format!("{username}-password"));
    core.sign_in(&WindowLabel::new(window), origin, username, &password, true).await.expect("sign-in").account
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn client_vs_bare(quick: bool) {
    let (server, _server_dir) = server(|_| {}).await;
    let client_dir = tempfile::tempdir().unwrap();
    let core = core(client_dir.path());
    let origin = ServerOrigin::parse(&server.base_url()).unwrap();
    let window = WindowLabel::new("acct-1");
    let account = sign_in(&core, &origin, "acct-1", "main").await;
    let token = core.sessions.token_for(&account).await.unwrap().secret.expose_secret().to_owned();
    // The bare side: one reqwest client, keep-alive, no cookie store, a fixed header; same JSON parsing.
    let bare = reqwest::Client::new();
    let url = format!("{}/v1/viewer?viewer_id={}", server.base_url(), account.user_id());
    let bare_read = || async {
        let response = bare
            .get(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("x-kage-auth-required", "1")
            .send()
            .await
            .unwrap();
        response.json::<Profile>().await.unwrap()
    };

    let (rounds, per_round) = if quick { (1, 5) } else { (ROUNDS, PER_ROUND) };
    for _ in 0..50 {
        core.client.profile(&window).await.unwrap();
        bare_read().await;
    }
    let (mut through_client, mut bare_calls) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for round in 0..rounds {
        for side in [round % 2, (round + 1) % 2] {
            for _ in 0..per_round {
                let at = Instant::now();
                if side == 0 {
                    core.client.profile(&window).await.unwrap();
                    through_client.push(at.elapsed());
                } else {
                    bare_read().await;
                    bare_calls.push(at.elapsed());
                }
            }
        }
    }
    let elapsed = started.elapsed();
    through_client.sort();
    bare_calls.sort();
    let (client_median, bare_median) = (percentile(&through_client, 0.5), percentile(&bare_calls, 0.5));
    let ratio = client_median.as_secs_f64() / bare_median.as_secs_f64();
    println!("profile read, {} requests each, sequential, {:.1} s", through_client.len(), elapsed.as_secs_f64());
    println!(
        "  through Client   median {:>7.1} us   p99 {:>7.1} us",
        micros(client_median),
        micros(percentile(&through_client, 0.99))
    );
    println!(
        "  bare reqwest     median {:>7.1} us   p99 {:>7.1} us",
        micros(bare_median),
        micros(percentile(&bare_calls, 0.99))
    );
    let verdict = if ratio <= 1.10 { "met" } else { "NOT met" };
    println!("  ratio of medians {ratio:>7.3}   (target <= 1.10: {verdict})");
    server.shutdown().await.unwrap();
}

async fn refresh_storm() {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counter = refreshes.clone();
    let (server, _server_dir) = server(move |config| {
        // Tokens live 11 s; the client renews 10 s early, so a second after sign-in every token is due.
        config.access_ttl = Duration::from_secs(11);
        config.observer = Some(Arc::new(move |record: kage_server::observe::RequestRecord| {
            if record.path == "/v1/sessions/refresh" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
    })
    .await;
    let client_dir = tempfile::tempdir().unwrap();
    let core = Arc::new(core(client_dir.path()));
    let origin = ServerOrigin::parse(&server.base_url()).unwrap();
    let main = sign_in(&core, &origin, "acct-1", "main").await;
    let alt = sign_in(&core, &origin, "acct-2", "alt").await;
    for (label, account) in [("acct-3", &main), ("acct-4", &alt), ("acct-5", &main), ("acct-6", &alt)] {
        core.open(&WindowLabel::new(label), account);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    refreshes.store(0, Ordering::SeqCst);

    let calls = 200;
    let started = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|i| {
            let core = core.clone();
            tokio::spawn(async move {
                let window = WindowLabel::new(format!("acct-{}", i % 6 + 1));
                let at = Instant::now();
                core.client.profile(&window).await.expect("storm call");
                at.elapsed()
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.push(task.await.unwrap());
    }
    let wall = started.elapsed();
    latencies.sort();
    let refreshed = refreshes.load(Ordering::SeqCst);
    println!("refresh storm: {calls} concurrent calls, 6 windows, 2 accounts, every token due");
    println!(
        "  refreshes {refreshed} (must be 2)   p50 {:.1} ms   p99 {:.1} ms   all done in {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3
    );
    assert_eq!(refreshed, 2, "one refresh per account");
    server.shutdown().await.unwrap();
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then a smoke run only.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {cores} cores");
    runtime.block_on(async {
        client_vs_bare(quick).await;
        if !quick {
            refresh_storm().await;
        }
    });
}
