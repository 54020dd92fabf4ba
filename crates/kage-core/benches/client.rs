//! `cargo bench -p kage-core`: what Kage's guarantees cost per request.
//!
//! 1. The same profile read through `Client` (window -> pin -> token -> request -> subject and epoch checks ->
//!    cache) and through a bare reqwest call with a fixed `Authorization` header, against the same in-process
//!    server, one request at a time, the two sides taking turns. Target (issue 3): ratio of medians at most 1.10.
//!    Both sides use a reqwest client built as `Core` builds its own (no cookie store, keep-alive, the same
//!    connect and request timeouts) and parse the answer into the same `Profile`, so only the client's own
//!    per-call work separates them. That work is also timed on its own, without the network.
//! 2. The refresh storm: 200 concurrent calls from 6 windows of 2 accounts whose tokens are all due; it must
//!    cost exactly 2 refreshes (one per account: the single flight). Prints calls, refreshes and latency
//!    percentiles.
//!
//! Without `--bench` (as under `cargo test --benches`) only a smoke run of a few requests is made.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use kage_core::model::Profile;
use kage_core::vault::{CredentialStore, MemoryStore};
use kage_core::{AccountKey, Core, CoreConfig, ExposeSecret, SecretString, ServerOrigin, WindowLabel};

const ROUNDS: usize = 20;
const PER_ROUND: usize = 500;
const WARMUP: usize = 200;
const STORM_CALLS: usize = 200;
const STORM_WINDOWS: usize = 6;

async fn server(configure: impl FnOnce(&mut kage_server::Config)) -> (kage_server::RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = kage_server::Config::new(dir.path());
    config.demo = true;
    configure(&mut config);
    (kage_server::start(config).await.expect("server starts"), dir)
}

fn core(dir: &std::path::Path) -> Core {
    Core::new(CoreConfig::new(dir), Arc::new(MemoryStore::default()) as Arc<dyn CredentialStore>)
}

async fn sign_in(core: &Core, origin: &ServerOrigin, window: &str, username: &str) -> AccountKey {
    let password = SecretString::from(format!("{username}-password"));
    core.sign_in(&WindowLabel::new(window), origin, username, &password, true).await.expect("sign-in").account
}

async fn token(core: &Core, account: &AccountKey) -> String {
    core.sessions.token_for(account).await.expect("token").secret.expose_secret().to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Mean time of one call of `call`, in microseconds.
async fn micros_per_call<F: Future>(calls: u32, mut call: impl FnMut() -> F) -> f64 {
    let started = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(call().await);
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(calls)
}

async fn client_vs_bare(quick: bool) {
    let (server, _server_dir) = server(|_| {}).await;
    let client_dir = tempfile::tempdir().expect("temp dir");
    let core_config = CoreConfig::new(client_dir.path());
    let core = core(client_dir.path());
    let origin = ServerOrigin::parse(&server.base_url()).expect("origin");
    let window = WindowLabel::new("acct-1");
    let account = sign_in(&core, &origin, "acct-1", "main").await;
    let token_before = token(&core, &account).await;

    // The bare side: a reqwest client built like Core's (no cookie store, keep-alive, same timeouts), the URL
    // and the header values fixed once, and the same JSON parsing into `Profile`.
    let bare = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(core_config.request_timeout)
        .build()
        .expect("client");
    let url = format!("{}/v1/viewer?viewer_id={}", server.base_url(), account.user_id());
    let authorization = format!("Bearer {token_before}");
    let bare_read = || async {
        let response = bare
            .get(&url)
            .header(reqwest::header::AUTHORIZATION, &authorization)
            .header("x-kage-auth-required", "1")
            .send()
            .await
            .expect("bare request");
        assert!(response.status().is_success(), "{}", response.status());
        response.json::<Profile>().await.expect("bare profile")
    };
    let client_read = || async { core.client.profile(&window).await.expect("profile through Client") };
    assert_eq!(client_read().await, bare_read().await, "both sides read the same profile");

    let (rounds, per_round, warmup) = if quick { (2, 5, 5) } else { (ROUNDS, PER_ROUND, WARMUP) };
    for _ in 0..warmup {
        client_read().await;
        bare_read().await;
    }
    let (mut through_client, mut bare_calls) = (Vec::new(), Vec::new());
    let started = Instant::now();
    // Within a round the two sides take turns request by request (which goes first alternates), so a change in
    // the machine's load hits both alike. On a shared 2-core machine, blocks of 500 requests per side gave
    // ratios from 0.95 to 1.16 across runs; taking turns kept them between 0.97 and 1.07.
    for round in 0..rounds {
        for pair in 0..per_round {
            let client_first = (round + pair) % 2 == 0;
            for client_side in [client_first, !client_first] {
                let at = Instant::now();
                if client_side {
                    std::hint::black_box(client_read().await);
                    through_client.push(at.elapsed());
                } else {
                    std::hint::black_box(bare_read().await);
                    bare_calls.push(at.elapsed());
                }
            }
        }
    }
    let elapsed = started.elapsed();
    // Access tokens live 60 s and are renewed 10 s early: a renewal inside the phase would put one refresh
    // into the Client side's figures. Say whether that happened.
    let renewed = token(&core, &account).await != token_before;
    through_client.sort();
    bare_calls.sort();
    let (client_median, bare_median) = (percentile(&through_client, 0.5), percentile(&bare_calls, 0.5));
    let ratio = client_median.as_secs_f64() / bare_median.as_secs_f64();
    println!(
        "profile read: {rounds} rounds x {per_round} requests per side, sequential, the sides taking turns; \
         {:.1} s measured, access token renewed meanwhile: {}",
        elapsed.as_secs_f64(),
        if renewed { "yes (one refresh is in the Client figures)" } else { "no" }
    );
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
    let verdict = match (quick, ratio <= 1.10) {
        (true, _) => "smoke run, not judged",
        (false, true) => "met",
        (false, false) => "NOT met",
    };
    println!("  ratio of medians {ratio:>7.3}   (target <= 1.10: {verdict})");

    if !quick {
        // The Client's own steps, without the network (means over many calls).
        let profile = client_read().await;
        const CALLS: u32 = 100_000;
        let pin = micros_per_call(CALLS, || async { core.windows.pin_of(&window) }).await;
        let token = micros_per_call(CALLS, || core.sessions.token_for(&account)).await;
        let status = micros_per_call(CALLS, || async { core.sessions.status(&account) }).await;
        let cache = micros_per_call(CALLS, || async { core.cache.put(&account, &profile).expect("cached") }).await;
        println!(
            "  Client's own steps, no network: pin {pin:.2} us, token {token:.2} us, status {status:.2} us, \
             cache put of an unchanged profile {cache:.2} us"
        );
    }
    server.shutdown().await.expect("shutdown");
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
    let client_dir = tempfile::tempdir().expect("temp dir");
    let core = core(client_dir.path());
    let origin = ServerOrigin::parse(&server.base_url()).expect("origin");
    let main = sign_in(&core, &origin, "acct-1", "main").await;
    let alt = sign_in(&core, &origin, "acct-2", "alt").await;
    for (label, account) in [("acct-3", &main), ("acct-4", &alt), ("acct-5", &main), ("acct-6", &alt)] {
        core.open(&WindowLabel::new(label), account);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = refreshes.load(Ordering::SeqCst);

    let windows: Vec<WindowLabel> = (1..=STORM_WINDOWS).map(|i| WindowLabel::new(format!("acct-{i}"))).collect();
    let started = Instant::now();
    let mut latencies = join_all((0..STORM_CALLS).map(|i| {
        let (core, window) = (&core, &windows[i % STORM_WINDOWS]);
        async move {
            let at = Instant::now();
            core.client.profile(window).await.expect("storm call");
            at.elapsed()
        }
    }))
    .await;
    let wall = started.elapsed();
    latencies.sort();
    let refreshed = refreshes.load(Ordering::SeqCst) - before;
    println!("refresh storm: {STORM_CALLS} concurrent calls, {STORM_WINDOWS} windows, 2 accounts, every token due");
    println!(
        "  calls {STORM_CALLS}   refreshes {refreshed} (must be 2)   p50 {:.1} ms   p99 {:.1} ms   all done in {:.1} ms",
        millis(percentile(&latencies, 0.5)),
        millis(percentile(&latencies, 0.99)),
        millis(wall)
    );
    assert_eq!(refreshed, 2, "one refresh per account");
    server.shutdown().await.expect("shutdown");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then a smoke run only.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {cores} cores, {} {}", std::env::consts::OS, std::env::consts::ARCH);
    runtime.block_on(async {
        client_vs_bare(quick).await;
        if quick {
            println!("client: smoke run only (use cargo bench)");
        } else {
            refresh_storm().await;
        }
    });
}
