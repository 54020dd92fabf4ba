//! `scripts/bench-cluster` (or `KAGE_SERVER_BINARY=target/release/kage-server cargo bench -p kage-cluster`):
//! the server's throughput on SQLite in one process, and on PostgreSQL with one and with two instances behind
//! HAProxy (issue 12). Each setup runs the release `kage-server` as its own process(es) on loopback.
//!
//! Two workloads, each from 32 keep-alive connections, one player per connection, 1 s warm-up and 4 s measured:
//! authenticated profile reads (`GET /v1/viewer`), and transfers (`POST /v1/transfers` of 1 ryo to the next
//! player in a ring, each with its own `Idempotency-Key`, so every request is a real write transaction with
//! its key recorded). Every answer must be a 200; the run stops at the first that is not.
//!
//! The client, HAProxy, PostgreSQL and the instances all share this machine's cores, so the figures say where
//! the work goes more than what a real deployment would do; docs/benchmarks.md reads them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kage_cluster::{Cluster, ClusterOptions};
use serde_json::{Value, json};

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(4);

struct Setup {
    label: &'static str,
    postgres: bool,
    instances: usize,
    through_balancer: bool,
}

const SETUPS: &[Setup] = &[
    Setup { label: "SQLite, 1 process, direct", postgres: false, instances: 1, through_balancer: false },
    Setup { label: "SQLite, 1 process, HAProxy", postgres: false, instances: 1, through_balancer: true },
    Setup { label: "PostgreSQL, 1 instance, HAProxy", postgres: true, instances: 1, through_balancer: true },
    Setup { label: "PostgreSQL, 2 instances, HAProxy", postgres: true, instances: 2, through_balancer: true },
];

/// Requests per second and latency percentiles of one workload.
struct Measured {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: nothing to measure then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("cluster bench: run with cargo bench (see the file's head)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "machine: {} cores; {CONNECTIONS} connections, one player each; {} s measured per workload",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        MEASURE.as_secs()
    );
    println!(
        "{:<34} {:>12} {:>9} {:>9} {:>12} {:>9} {:>9}",
        "setup", "reads/s", "p50", "p99", "transfers/s", "p50", "p99"
    );
    for setup in SETUPS {
        let mut options =
            ClusterOptions::new(&format!("bench-{}", setup.label.replace([',', ' '], "-").to_lowercase()));
        options.postgres = setup.postgres;
        options.instances = setup.instances;
        let cluster = Cluster::start(options).expect("the cluster starts");
        let base = if setup.through_balancer { cluster.url() } else { cluster.instance(0).url() };
        let (reads, transfers) = runtime.block_on(measure(&base));
        println!(
            "{:<34} {:>12.0} {:>9} {:>9} {:>12.0} {:>9} {:>9}",
            setup.label,
            reads.per_second,
            ms(reads.p50),
            ms(reads.p99),
            transfers.per_second,
            ms(transfers.p50),
            ms(transfers.p99)
        );
        drop(cluster);
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

async fn measure(base: &str) -> (Measured, Measured) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().expect("client");
    let players = players(base).await;
    let (viewer, transfers_url) = (format!("{base}/v1/viewer"), format!("{base}/v1/transfers"));
    let reads = run(&client, &players, move |client, me, _| client.get(&viewer).bearer_auth(&me.token)).await;
    let transfers = run(&client, &players, move |client, me, n| {
        client
            .post(&transfers_url)
            .bearer_auth(&me.token)
            .header("idempotency-key", format!("bench-{}-{n}", me.name))
            .json(&json!({"to": me.next, "amount": 1}))
    })
    .await;
    (reads, transfers)
}

struct Player {
    name: String,
    next: String,
    token: String,
}

/// One new player per connection, signed up and in from addresses of their own (sign-ups are limited per
/// address), each sending to the next.
async fn players(base: &str) -> Vec<Player> {
    let names: Vec<String> = (0..CONNECTIONS).map(|i| format!("bench{i:02}")).collect();
    let mut players = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let from = std::net::IpAddr::from([127, 0, 1, 1 + (i / 8) as u8]);
        let client = reqwest::Client::builder().local_address(from).build().expect("client");
        let password = format!("{name}-password");
        let signed_up = client
            .post(format!("{base}/v1/sign-up"))
            .json(&json!({"username": name, "password": password}))
            .send()
            .await;
        assert!(signed_up.expect("sign-up").status().is_success(), "sign-up of {name}");
        let grant: Value = client
            .post(format!("{base}/v1/sessions"))
            .json(&json!({"username": name, "password": password}))
            .send()
            .await
            .expect("sign-in")
            .json()
            .await
            .expect("grant");
        let token = grant["access_token"].as_str().expect("access token").to_owned();
        players.push(Player { name: name.clone(), next: names[(i + 1) % names.len()].clone(), token });
    }
    players
}

/// Every player sends `request` back to back on a connection of its own; counted and timed after the warm-up.
async fn run<F>(client: &reqwest::Client, players: &[Player], request: F) -> Measured
where
    F: Fn(&reqwest::Client, &Player, u64) -> reqwest::RequestBuilder + Send + Sync + 'static + Clone,
{
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = players
        .iter()
        .map(|player| {
            let (client, request) = (client.clone(), request.clone());
            let player = Player { name: player.name.clone(), next: player.next.clone(), token: player.token.clone() };
            let (counting, stop) = (counting.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let started = Instant::now();
                    let response = request(&client, &player, n).send().await.expect("request");
                    let status = response.status();
                    let body = response.text().await.expect("body");
                    assert!(status.is_success(), "{status}: {body}");
                    if counting.load(Ordering::Relaxed) {
                        latencies.push(started.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("worker"));
    }
    latencies.sort_unstable();
    let at = |fraction: f64| latencies[((latencies.len() as f64 * fraction) as usize).min(latencies.len() - 1)];
    Measured { per_second: latencies.len() as f64 / elapsed.as_secs_f64(), p50: at(0.50), p99: at(0.99) }
}
