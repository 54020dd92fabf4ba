//! `cargo bench -p kage-server`: authenticated profile reads vs `/healthz` over loopback keep-alive
//! connections, in one run, and the cost of one JWT verification.
//!
//! Target (issue 2): the authenticated read reaches at least 40% of `/healthz` throughput. The ratio is what
//! matters: both phases share the machine, the client and the connection pool, so only the server's per-request
//! work (token verification, revocation check, SQLite read, JSON) separates them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kage_server::tokens::Audience;
use serde_json::json;

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(4);

async fn requests_per_second(client: &reqwest::Client, url: &str, token: Option<&str>) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
            let (count, counting, stop) = (count.clone(), counting.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let mut request = client.get(&url);
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    let response = request.send().await.expect("request");
                    assert!(response.status().is_success(), "{}", response.status());
                    response.bytes().await.expect("body");
                    if counting.load(Ordering::Relaxed) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let done = count.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    done as f64 / elapsed.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a token amount then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = kage_server::Config::new(dir.path());
        config.demo = true;
        let server = kage_server::start(config).await.expect("server starts");
        let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().expect("client");
        let grant: serde_json::Value = client
            .post(format!("{}/v1/sessions", server.base_url()))
            .json(&json!({"username": "main", "password": "main-password"}))
            .send()
            .await
            .expect("sign in")
            .json()
            .await
            .expect("grant");
        let token = grant["access_token"].as_str().expect("token").to_owned();
        if quick {
            let response = client.get(format!("{}/v1/viewer", server.base_url())).bearer_auth(&token).send().await;
            assert!(response.expect("profile").status().is_success());
            println!("throughput: smoke run only (use cargo bench)");
            return;
        }

        let tokens = &server.state.tokens;
        let verify_us = micros_per_call(|| tokens.verify_signature(&token, Audience::Api).expect("verifies"));
        let cached_us = micros_per_call(|| tokens.verify(&token, Audience::Api).expect("verifies"));

        let healthz = requests_per_second(&client, &format!("{}/healthz", server.base_url()), None).await;
        let profile = requests_per_second(&client, &format!("{}/v1/viewer", server.base_url()), Some(&token)).await;
        let ratio = profile / healthz;
        println!("machine: {} cores; {CONNECTIONS} keep-alive connections; {} s per phase", cores(), MEASURE.as_secs());
        println!("GET /healthz                      {healthz:>10.0} req/s");
        println!("GET /v1/viewer (Bearer, verified) {profile:>10.0} req/s");
        println!("ratio profile / healthz           {ratio:>10.2}   (target >= 0.40: {})", verdict(ratio >= 0.40));
        println!("JWT verification, full (EdDSA)    {verify_us:>10.1} us");
        println!("JWT verification, already seen    {cached_us:>10.2} us");
        server.shutdown().await.expect("shutdown");
    });
}

fn micros_per_call<T>(mut call: impl FnMut() -> T) -> f64 {
    const CALLS: u32 = 20_000;
    let started = Instant::now();
    for _ in 0..CALLS {
        std::hint::black_box(call());
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
