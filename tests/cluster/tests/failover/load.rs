//! The steady load: each window keeps [`IN_FLIGHT_PER_WINDOW`] transfers of 1 ryo to the other player in
//! flight, through kage-core's `Client` (so its idempotency keys, retries and refreshes are what is tested),
//! and every answer is kept with when it came.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kage_core::Core;
use kage_core::client::ClientError;
use kage_core::model::Profile;

use crate::windows::Player;

/// Transfers each window keeps in flight, so every kill catches several.
pub const IN_FLIGHT_PER_WINDOW: usize = 6;
/// How far the transfers begun one way may outnumber those begun the other way, so neither player runs out of
/// ryo (both start with 100) and no transfer is refused for that.
const MAX_NET: i64 = 40;

#[derive(Clone, Default)]
pub struct Load {
    pub stop: Arc<AtomicBool>,
    /// Transfers main -> alt begun, minus alt -> main begun.
    net: Arc<AtomicI64>,
    in_flight: Arc<AtomicUsize>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
}

impl Load {
    pub fn start(core: &Arc<Core>, players: &Arc<[Player]>) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let load = Self::default();
        let senders = (0..players.len())
            .flat_map(|from| std::iter::repeat_n(from, IN_FLIGHT_PER_WINDOW))
            .map(|from| tokio::spawn(send_transfers(core.clone(), players.clone(), from, load.clone())))
            .collect();
        (load, senders)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn record(&self, outcome: Outcome) {
        self.outcomes.lock().unwrap().push(outcome);
    }

    pub fn outcomes(&self) -> Vec<Outcome> {
        std::mem::take(&mut *self.outcomes.lock().unwrap())
    }
}

pub struct Outcome {
    /// The window that acted (its player's index).
    pub from: usize,
    pub started: Instant,
    pub ended: Instant,
    pub result: Result<Profile, ClientError>,
    /// A transfer (else a profile fetch).
    pub transfer: bool,
}

/// One of a window's senders: a transfer of 1 ryo to the other player, again and again, until told to stop.
async fn send_transfers(core: Arc<Core>, players: Arc<[Player]>, from: usize, load: Load) {
    let (player, to) = (&players[from], &players[1 - from]);
    let step = if from == 0 { 1 } else { -1 };
    while !load.stop.load(Ordering::SeqCst) {
        let room = load.net.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |net| {
            ((net + step).abs() <= MAX_NET).then_some(net + step)
        });
        if room.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        load.in_flight.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let result = core.client.transfer(&player.window, to.name, 1).await;
        load.in_flight.fetch_sub(1, Ordering::SeqCst);
        load.record(Outcome { from, started, ended: Instant::now(), result, transfer: true });
    }
}

/// What one window's transfers came to: confirmed; refused by the server (not carried out; a resend with the
/// same key gets the first answer again); or unknown: any other error, which may follow a try that was carried
/// out and whose answer was lost (kage-core's resend needs a token too, and may fail), so the window cannot tell.
#[derive(Debug, Default)]
pub struct Tally {
    pub ok: i64,
    pub refused: i64,
    pub unknown: i64,
}

impl Tally {
    pub fn of(outcomes: &[Outcome], from: usize) -> Self {
        let mut tally = Self::default();
        for outcome in outcomes.iter().filter(|o| o.transfer && o.from == from) {
            match &outcome.result {
                Ok(_) => tally.ok += 1,
                Err(ClientError::Refused { status: 400..=499, .. }) => tally.refused += 1,
                Err(_) => tally.unknown += 1,
            }
        }
        tally
    }

    /// All of them (some may never have left: no token at that moment).
    pub fn sent(&self) -> i64 {
        self.ok + self.refused + self.unknown
    }
}

/// The errors the windows showed, by message, e.g. `3x the server cannot be reached: ...`.
pub fn failure_kinds(outcomes: &[Outcome]) -> String {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for outcome in outcomes {
        if let Err(error) = &outcome.result {
            *kinds.entry(error.to_string()).or_default() += 1;
        }
    }
    let kinds: Vec<String> = kinds.into_iter().map(|(kind, n)| format!("{n}x {kind}")).collect();
    if kinds.is_empty() { "none".into() } else { kinds.join("; ") }
}

/// When the errors came, as `n within T of kill k` for each kill followed by errors (an error before the first
/// kill counts as `before`).
pub fn failures_after_kills(outcomes: &[Outcome], kills: &[Instant]) -> String {
    let mut after: BTreeMap<Option<usize>, (usize, Duration)> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| o.result.is_err()) {
        let kill = kills.iter().rposition(|at| *at <= outcome.ended);
        let since = kill.map_or(Duration::ZERO, |k| outcome.ended.duration_since(kills[k]));
        let entry = after.entry(kill).or_default();
        *entry = (entry.0 + 1, entry.1.max(since));
    }
    let parts: Vec<String> = after
        .into_iter()
        .map(|(kill, (n, latest))| match kill {
            Some(k) => format!("{n} within {latest:?} of kill {}", k + 1),
            None => format!("{n} before the first kill"),
        })
        .collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// The longest time any window went from an answer that was an error to the next one that was not, in the
/// order the answers arrived.
pub fn longest_failure_gap(outcomes: &[Outcome], windows: usize) -> Duration {
    let mut longest = Duration::ZERO;
    for window in 0..windows {
        let mut mine: Vec<&Outcome> = outcomes.iter().filter(|o| o.from == window).collect();
        mine.sort_by_key(|o| o.ended);
        let mut failing_since = None;
        for outcome in mine {
            match (&outcome.result, failing_since) {
                (Err(_), None) => failing_since = Some(outcome.ended),
                (Ok(_), Some(since)) => {
                    longest = longest.max(outcome.ended.duration_since(since));
                    failing_since = None;
                }
                _ => {}
            }
        }
        if let Some(since) = failing_since {
            longest = longest.max(since.elapsed());
        }
    }
    longest
}

/// The slowest transfer, from the call to its answer (a resend after a kill, a refresh, a held commit).
pub fn slowest(outcomes: &[Outcome]) -> Duration {
    outcomes.iter().filter(|o| o.transfer).map(|o| o.ended.duration_since(o.started)).max().unwrap_or_default()
}
