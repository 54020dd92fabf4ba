//! Issue 12's failover proof, from the client's side: kage-core with two windows, `main` and `alt`, each pinned
//! to its own account and listening to its own event stream, all through HAProxy in front of two kage-server
//! instances on one PostgreSQL database. While every window keeps transfers in flight (1 ryo each, main to alt
//! and alt to main, each with its own idempotency key, all through kage-core's `Client`), instance 0 is killed
//! (SIGKILL), restarted, then instance 1 is killed; the load stops there. Instance 1 is restarted, and a last,
//! quiet kill takes instance 0 again, then it is restarted too. Run twice: behind the production balancer, which
//! resends a keyed action a dying instance failed, and behind one that resends no action (nginx's default for
//! POST), where every lost answer reaches kage-core and kage-core must resend.
//!
//! Each kill lands while a transfer of the dying instance has committed and not yet answered (PostgreSQL's
//! commits are held for the moment; see `commit_hold.rs`): the lost answer after the server acted, which a bare
//! SIGKILL almost never produces. The two kills under load also land while both accounts refresh (their access
//! tokens are dropped just before; they live only 13 s anyway, a refresh every 3 s). The quiet kill takes the
//! instance that holds both windows' event streams, frozen first (SIGSTOP) so that the event of its last
//! transfer goes nowhere, and with nothing else under way: only the refetch on the new stream's `ready` can then
//! show the windows that transfer.
//!
//! Checked, and printed as one `failover figures` line per run:
//! - false sign-outs: windows that said "signed out" at any moment, were told so, got a sign-out error, or
//!   showed or were sent another account than their own: must be 0;
//! - events missed: windows whose last profile delivered by kage-core (stream events and refetches only, not
//!   their own actions' answers) differs from the database's profile within 5 s, once after the load stopped
//!   and once after the quiet kill: must be 0;
//! - actions applied twice: each transfer bumps both players' `version` once and moves 1 ryo, so the database
//!   says how many transfers each way were carried out; more than the client had confirmed plus those that ended
//!   in an error (their outcome unknown to the window) is a double: must be 0. Nor may a window have been told
//!   a transfer failed that was carried out (each kill's committed transfer has to be resent with its key and
//!   answered from its record), or a transfer confirmed that was not. Every transfer carried out has one
//!   idempotency record, and every transfer reached the balancer with a key (HAProxy's log captures them);
//! - ryo drift: main + alt before and after: must be 0;
//! - visible failures (errors a window would show) and time shown "offline": must be 0, since one instance is
//!   always up (a refresh whose answer a kill lost is resent, and the grace period answers it); when failures
//!   came and the longest time a window went from an error to its next success are printed beside them.
//!
//! Made to fail on purpose (see docs/testing.md): kage-core not refetching on a stream's `ready` after its first
//! (events.rs) leaves both windows behind after the quiet kill; the server's idempotency claim running every
//! action (idempotency.rs) carries out twice each committed transfer that was resent; no `Idempotency-Key` from
//! kage-core (client.rs) makes kage-core's own resend carry a transfer out twice; kage-core resending a lost
//! action only once and at once, not after a gateway's 502 nor through a refresh lost to the same crash (as it
//! did before `resends::Resends`), fails the no-resend run about half the time (the window is told "cannot be
//! reached" about a transfer that was carried out).
//!
//! Needs `scripts/setup` (haproxy, postgresql) and `cargo build -p kage-server --bin kage-server`, like the
//! other cluster tests; logs in `target/cluster/failover-proof-*.log` and `target/cluster/failover-no-resend-*`.

mod balancer_log;
mod commit_hold;
mod load;
mod windows;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kage_cluster::{Cluster, ClusterOptions};
use kage_core::vault::{CredentialStore, MemoryStore};
use kage_core::{Core, CoreConfig, ServerOrigin};

use crate::balancer_log::BalancerLog;
use crate::commit_hold::CommitHold;
use crate::load::{Load, Outcome, Tally, failure_kinds, failures_after_kills, longest_failure_gap, slowest};
use crate::windows::{Player, signs_out, watch_windows};

const WARM_UP: Duration = Duration::from_millis(1500);
const BETWEEN_STEPS: Duration = Duration::from_secs(3);
/// How soon after the load stopped every window must show the server's final profile.
const CATCH_UP: Duration = Duration::from_secs(5);
/// Seconds an access token lives; kage-core refreshes 10 s before the end, so every 3 s.
const ACCESS_TTL_SECS: &str = "13";
/// Holds before a kill until the transfer waiting at its commit is one of the dying instance's (the other's,
/// half the time).
const HOLD_TRIES: usize = 20;
/// How long an instance here may wait to hear its own heartbeat. While commits are held, PostgreSQL delivers no
/// notification queued after a held transaction's `NOTIFY` (every transfer sends one): every listener stalls
/// until the release, and with the production bound of 2 s an instance said it was deaf (503) after a hold,
/// seen in 3 of 6 runs on 2026-12-04 (once with the instance just killed as the other: no server for 3 s, 263
/// calls failed). That is the commit hold's doing, not a deaf listener; the deafness bound has tests of its own
/// (tests/database_faults.rs).
const HEARD_WITHIN_MS: &str = "10000";
/// How long one hold waits for a transfer to reach its commit (under load one does every few ms); short, so that
/// holds stall the listeners (see [`HEARD_WITHIN_MS`]) as little as possible.
const HOLD_WAIT: Duration = Duration::from_millis(700);

/// The production balancer: it resends a keyed action that a dying instance failed, so the client never sees
/// the lost answer, and the idempotency record is what keeps it to once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_costs_no_window_its_account_an_event_or_a_ryo() {
    failover("failover-proof", true).await;
}

/// A balancer that resends no action (nginx's default for POST): each lost answer reaches kage-core, which must
/// resend the action itself, with the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_a_balancer_that_resends_no_action_costs_nothing_either() {
    failover("failover-no-resend", false).await;
}

/// One run at a time: two clusters starting side by side can be handed the same free port (the balancer's is
/// chosen seconds before it binds it), and the machine has two cores for both.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn failover(name: &str, balancer_resends: bool) {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let mut options = ClusterOptions::new(name);
    options.haproxy.resend_actions = balancer_resends;
    options.postgres = true;
    // Both players refresh from one address, and the test drops their access tokens before every hold try:
    // the per-address refresh throttle (tested on its own) would answer 429 to a load no player makes.
    options.instance_args =
        ["--access-ttl-secs", ACCESS_TTL_SECS, "--refresh-burst", "1000", "--heartbeat-within-ms", HEARD_WITHIN_MS]
            .map(String::from)
            .to_vec();
    let mut cluster = tokio::task::block_in_place(|| Cluster::start(options)).unwrap();
    let db = sqlx::PgPool::connect(cluster.database_url().unwrap()).await.unwrap();
    let hold = CommitHold::prepare(&db).await;
    // Connected before the database's new setting: connect again, committing synchronously.
    tokio::task::block_in_place(|| cluster.restart(0).and_then(|()| cluster.restart(1))).unwrap();

    let client_dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(MemoryStore::default());
    // The app's settings: a 15 s bound on requests, and a 5-minute background refetch, which cannot hide a
    // missed event here.
    let core = Arc::new(Core::new(CoreConfig::new(client_dir.path()), vault as Arc<dyn CredentialStore>));
    let origin = ServerOrigin::parse(&cluster.url()).unwrap();
    let mut players = Vec::new();
    for name in ["main", "alt"] {
        players.push(Player::sign_up_and_in(&core, &cluster.url(), &origin, name).await);
    }
    let players: Arc<[Player]> = players.into();
    let before = balances(&db, &players).await;

    let (load, senders) = Load::start(&core, &players);
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = tokio::spawn(watch_windows(core.clone(), players.clone(), watching.clone()));
    tokio::time::sleep(WARM_UP).await;
    let mut kills = vec![kill_after_a_commit(&mut cluster, 0, &hold, &core, &players, &load, false).await];
    tokio::time::sleep(BETWEEN_STEPS).await;
    tokio::task::block_in_place(|| cluster.restart(0)).unwrap();
    tokio::time::sleep(BETWEEN_STEPS).await;
    kills.push(kill_after_a_commit(&mut cluster, 1, &hold, &core, &players, &load, true).await);
    for sender in senders {
        sender.await.unwrap();
    }
    // Nothing changes any more: every window must come to show the database's final profile by itself.
    let (mut behind, after_load) = windows_behind(&db, &players).await;
    tokio::task::block_in_place(|| cluster.restart(1)).unwrap();
    // The windows' streams reconnected to instance 0, the only one up then: the quiet kill takes that one.
    let quiet = wait_for_streams(&cluster, players.len()).await;
    kills.push(kill_quietly_after_a_commit(&mut cluster, quiet, &hold, &core, &players, &load).await);
    let (quiet_behind, after_quiet) = windows_behind(&db, &players).await;
    behind.extend(quiet_behind);
    tokio::task::block_in_place(|| cluster.restart(quiet)).unwrap();

    // Each window still works, as its own account, whichever instance answers.
    for player in players.iter() {
        for _ in 0..4 {
            let at = Instant::now();
            let result = core.client.profile(&player.window).await;
            load.record(Outcome { from: player.index, started: at, ended: Instant::now(), result, transfer: false });
        }
    }
    watching.store(false, Ordering::SeqCst);
    let mut wrong = watcher.await.unwrap();
    let after = balances(&db, &players).await;
    let balancer = BalancerLog::read(&std::fs::read_to_string(cluster.haproxy().log_path()).unwrap());

    // ---- the figures ----
    let outcomes = load.outcomes();
    for outcome in &outcomes {
        let player = &players[outcome.from];
        match &outcome.result {
            Ok(profile) if profile.id != player.account.user_id() || profile.username != player.name => {
                wrong.push(format!("{}'s window got {}'s profile", player.name, profile.username));
            }
            Err(error) if signs_out(error) => wrong.push(format!("{}'s window: {error}", player.name)),
            _ => {}
        }
    }
    let signed_out_windows = players
        .iter()
        .filter(|p| !p.seen.wrong().is_empty() || wrong.iter().any(|w| w.starts_with(&format!("{}'s ", p.name))))
        .count();
    for player in players.iter() {
        wrong.extend(player.seen.wrong());
    }

    // Carried out, by direction [main -> alt, alt -> main]: each transfer bumps both versions and moves 1 ryo.
    let versions = after["main"].version - before["main"].version;
    let main_gained = after["main"].ryo - before["main"].ryo;
    assert_eq!(after["alt"].version - before["alt"].version, versions, "every change was a transfer");
    assert_eq!((versions + main_gained) % 2, 0, "{before:?} {after:?}");
    let applied = [(versions - main_gained) / 2, (versions + main_gained) / 2];
    let keyed = keyed_answers(&db, &players).await;
    let tally = [Tally::of(&outcomes, 0), Tally::of(&outcomes, 1)];
    let doubled: i64 = (0..2).map(|d| (applied[d] - tally[d].ok - tally[d].unknown).max(0)).sum();
    let confirmed_not_applied: i64 = (0..2).map(|d| (tally[d].ok - applied[d]).max(0)).sum();
    // Beyond a double: a window told a transfer failed ("cannot be reached") that was carried out, so the player,
    // who cannot tell, does it again.
    let failed_but_applied: i64 = (0..2).map(|d| (applied[d] - tally[d].ok).max(0)).sum::<i64>() - doubled;
    let total = |balances: &HashMap<&str, Balance>| balances.values().map(|b| b.ryo).sum::<i64>();
    let drift = total(&after) - total(&before);
    let sent = tally[0].sent() + tally[1].sent();

    eprintln!(
        "failover figures ({balancer}): kills {kills}, false sign-outs {signed_out_windows}, events missed \
         {missed}, actions applied twice {doubled}, ryo drift {drift}; transfers sent {sent} ({m2a} main->alt, \
         {a2m} alt->main), confirmed {confirmed}, carried out {applied:?}, told failed but carried out \
         {failed_but_applied}; failed visibly {failed}, longest gap {gap:?}, slowest transfer {slowest:?}, offline \
         shown {offline:?}; at the kills: transfers in flight {in_flight:?}, holds until one of the dying \
         instance's had committed {tries:?}; the balancer resent {resent} transfers, {bad} answered 5xx, {keys} \
         keys seen; answered from the idempotency record (carried out before a kill, answer lost, resent with the \
         same key): {replayed}; event streams cut {cut}, windows caught up {after_load:?} after the load stopped \
         and {after_quiet:?} after the quiet kill; run {run:?}",
        balancer = if balancer_resends { "the balancer resends actions" } else { "the balancer resends none" },
        kills = kills.len(),
        missed = behind.len(),
        m2a = tally[0].sent(),
        a2m = tally[1].sent(),
        confirmed = tally[0].ok + tally[1].ok,
        keys = balancer.keys,
        failed = failures(&outcomes, &kills),
        gap = longest_failure_gap(&outcomes, players.len()),
        slowest = slowest(&outcomes),
        offline = players.iter().map(|p| p.seen.offline_time()).collect::<Vec<_>>(),
        in_flight = kills.iter().map(|k| k.in_flight).collect::<Vec<_>>(),
        tries = kills.iter().map(|k| k.tries).collect::<Vec<_>>(),
        resent = balancer.resent,
        replayed = balancer.replayed,
        bad = balancer.failed,
        cut = balancer.streams_cut,
        run = started.elapsed(),
    );

    assert!(wrong.is_empty(), "false sign-outs, or another account shown: {wrong:#?}");
    assert!(behind.is_empty(), "events missed: {behind:#?}");
    assert_eq!(doubled, 0, "transfers carried out {applied:?}; the windows' {tally:?}");
    assert_eq!(confirmed_not_applied, 0, "confirmed but not carried out: {applied:?}; the windows' {tally:?}");
    assert_eq!(failed_but_applied, 0, "told failed but carried out: {applied:?}; the windows' {tally:?}");
    assert_eq!(keyed, applied, "every transfer carried out has one idempotency record");
    assert_eq!(drift, 0, "ryo before {before:?}, after {after:?}");
    assert_eq!(balancer.keyless_transfers, 0, "every transfer carries an Idempotency-Key");
    // Not every request leaves a line (a try cut by a kill; a line HAProxy dropped when its stderr was full), so
    // the log can only bound this from above; the replays it shows are reported, not counted on.
    assert!(balancer.keys <= sent, "one key per transfer: {} keys, {sent} sent", balancer.keys);
    // With one instance always up, the windows must not notice the others dying: no call failed, and no window
    // said offline (a refresh whose answer a kill lost is resent; the grace period answers it).
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    assert_eq!(failed, 0, "calls failed in the windows: {}", failures(&outcomes, &kills));
    let offline: Vec<Duration> = players.iter().map(|p| p.seen.offline_time()).collect();
    assert!(offline.iter().all(Duration::is_zero), "windows said offline for {offline:?}");
}

/// `0`, or how many calls ended in an error, which errors and when: `3 (3x the server cannot be reached: ...; 3
/// within 20ms of kill 1)`.
fn failures(outcomes: &[Outcome], kills: &[Kill]) -> String {
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    if failed == 0 {
        return "0".into();
    }
    let at: Vec<Instant> = kills.iter().map(|k| k.at).collect();
    format!("{failed} ({}; {})", failure_kinds(outcomes), failures_after_kills(outcomes, &at))
}

#[derive(Debug)]
struct Kill {
    at: Instant,
    in_flight: usize,
    tries: usize,
}

/// Kills `instance` while transfers are in flight, one of its own committed and waiting for the commit hold's
/// release (its answer is lost after the server acted), and both accounts refreshing (their access tokens are
/// dropped just before). With `last`, no transfer begins after the kill.
async fn kill_after_a_commit(
    cluster: &mut Cluster,
    instance: usize,
    hold: &CommitHold,
    core: &Core,
    players: &[Player],
    load: &Load,
    last: bool,
) -> Kill {
    let pid = cluster.instance(instance).pid().expect("the instance runs");
    for tries in 1..=HOLD_TRIES {
        hold.hold().await;
        if hold.transfer_waits_on(pid, HOLD_WAIT).await == Some(true) {
            for player in players {
                core.sessions.expire_access_token(&player.account);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            if last {
                load.stop.store(true, Ordering::SeqCst);
            }
            let (in_flight, at) = (load.in_flight(), Instant::now());
            tokio::task::block_in_place(|| cluster.kill(instance)).unwrap();
            hold.release().await;
            return Kill { at, in_flight, tries };
        }
        hold.release().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("in {HOLD_TRIES} holds, no transfer of instance {instance} reached its commit");
}

/// The last kill, with nothing else under way: one transfer of main's is carried out by `instance`, which holds
/// the windows' event streams (see [`wait_for_streams`]); the instance then freezes (SIGSTOP: the transfer's
/// events reach it and go no further) and dies before answering. The transfer is resent (by the balancer or by
/// kage-core) to the other instance, which answers it from the idempotency record, with no event: only the
/// refetch on the new stream's `ready` can show the windows what happened.
async fn kill_quietly_after_a_commit(
    cluster: &mut Cluster,
    instance: usize,
    hold: &CommitHold,
    core: &Arc<Core>,
    players: &Arc<[Player]>,
    load: &Load,
) -> Kill {
    let pid = cluster.instance(instance).pid().expect("the instance runs");
    let streams = streams_on(cluster, instance);
    let send = || {
        let (core, players, load) = (core.clone(), players.clone(), load.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let result = core.client.transfer(&players[0].window, players[1].name, 1).await;
            load.record(Outcome { from: 0, started, ended: Instant::now(), result, transfer: true });
        })
    };
    let mut misses = Misses::default();
    for tries in 1..=HOLD_TRIES {
        // Each window has taken in every event so far, and holds a fresh access token: nothing it does while
        // commits are held (a refresh writes) can delay its events past the kill.
        assert!(windows_behind(&hold.db, players).await.0.is_empty(), "the windows are up to date before the hold");
        for player in players.iter() {
            core.sessions.expire_access_token(&player.account);
            core.client.profile(&player.window).await.unwrap();
        }
        hold.hold().await;
        let transfer = send();
        let waits_here = hold.transfer_waits_on(pid, HOLD_WAIT).await == Some(true);
        if waits_here && streams_on(cluster, instance) == streams {
            let before = balances(&hold.db, players).await["main"].version;
            freeze(pid);
            hold.release().await;
            // The frozen instance's transaction completes inside PostgreSQL, and tells the instances so.
            while balances(&hold.db, players).await["main"].version == before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let at = Instant::now();
            tokio::task::block_in_place(|| cluster.kill(instance)).unwrap();
            transfer.await.unwrap();
            return Kill { at, in_flight: 1, tries };
        }
        hold.release().await;
        transfer.await.unwrap();
        match waits_here {
            true => misses.streams_moved += 1,
            false => misses.elsewhere += 1,
        }
        // The balancer takes turns, and each try sends the same number of requests (two refreshes, two profiles,
        // the transfer): every try's transfer would land on the same instance in lockstep (seen: 20 of 20 on
        // the other one). One more request through the balancer moves the next transfer to the other instance.
        let health = reqwest::get(format!("{}/healthz", cluster.url())).await;
        assert!(health.is_ok(), "the balancer answers: {health:?}");
    }
    panic!("in {HOLD_TRIES} holds, no transfer of instance {instance} reached its commit: {misses:?}");
}

/// Why the tries of [`kill_quietly_after_a_commit`] missed, for its failure message.
#[derive(Debug, Default)]
struct Misses {
    /// The transfer was not seen waiting on this instance's commit (carried out by the other, or not held).
    elsewhere: usize,
    /// It waited here, but the event streams had moved meanwhile.
    streams_moved: usize,
}

/// Waits until `streams` requests have been under way for a second or more (with nothing else going on, the
/// windows' event streams), and returns the instance that holds most of them (all, normally: they last
/// reconnected while only it was up; a window whose stream is elsewhere then just sees the event).
async fn wait_for_streams(cluster: &Cluster, streams: usize) -> usize {
    let started = Instant::now();
    loop {
        let on: Vec<usize> = (0..cluster.instances().len()).map(|index| streams_on(cluster, index)).collect();
        if on.iter().sum::<usize>() == streams {
            return (0..on.len()).max_by_key(|index| on[*index]).expect("instances");
        }
        assert!(started.elapsed() < CATCH_UP, "the event streams do not settle: {on:?} on the instances");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn streams_on(cluster: &Cluster, index: usize) -> usize {
    let ages = cluster.haproxy().session_ages_on(&cluster.server_name(index)).unwrap();
    ages.iter().filter(|age| **age >= Duration::from_secs(1)).count()
}

/// Stops process `pid` (SIGSTOP) and returns once every one of its threads has stopped.
fn freeze(pid: u32) {
    let status = std::process::Command::new("kill").arg("-STOP").arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -STOP {pid}: {status}");
    let started = Instant::now();
    let running = || {
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
        threads.flatten().any(|thread| {
            let stat = std::fs::read_to_string(thread.path().join("stat")).unwrap_or_default();
            // "tid (comm) state ...": the state follows the last ')'.
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()) != Some("T")
        })
    };
    while running() {
        assert!(started.elapsed() < Duration::from_secs(5), "process {pid} does not stop");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until every window shows the database's current profile (nothing changes meanwhile), at most
/// [`CATCH_UP`]; returns the windows still behind, and how long it took.
async fn windows_behind(db: &sqlx::PgPool, players: &[Player]) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let now = balances(db, players).await;
    let caught_up = |player: &Player| {
        let want = &now[player.name];
        player.seen.last_profile().is_some_and(|p| (p.version, p.ryo) == (want.version, want.ryo))
    };
    while started.elapsed() < CATCH_UP && !players.iter().all(caught_up) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let behind = players
        .iter()
        .filter(|player| !caught_up(player))
        .map(|player| {
            let shown = player.seen.last_profile().map(|p| (p.version, p.ryo));
            let want = &now[player.name];
            format!("{} shows (version, ryo) {shown:?}, the server has {:?}", player.name, (want.version, want.ryo))
        })
        .collect();
    (behind, started.elapsed())
}

// ---- the database: the truth the windows are compared with ----

#[derive(Debug)]
struct Balance {
    ryo: i64,
    version: i64,
}

async fn balances(db: &sqlx::PgPool, players: &[Player]) -> HashMap<&'static str, Balance> {
    let mut balances = HashMap::new();
    for player in players {
        let (ryo, version): (i64, i64) = sqlx::query_as("SELECT ryo, version FROM users WHERE id = $1")
            .bind(player.account.user_id())
            .fetch_one(db)
            .await
            .unwrap();
        balances.insert(player.name, Balance { ryo, version });
    }
    balances
}

/// The idempotency records of transfers carried out, by direction: [main -> alt, alt -> main].
async fn keyed_answers(db: &sqlx::PgPool, players: &[Player]) -> [i64; 2] {
    let mut keyed = [0; 2];
    for player in players {
        keyed[player.index] =
            sqlx::query_scalar("SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND status = 200")
                .bind(player.account.user_id())
                .fetch_one(db)
                .await
                .unwrap();
    }
    keyed
}
