//! What HAProxy's log says about a run: its `option httplog` lines, with the Idempotency-Key and
//! Idempotent-Replayed captures of `haproxy_config.rs`, e.g.
//!
//! ```text
//! 127.0.0.1:40426 [28/Nov/2026:04:04:31.623] kage instances/instance-1 0/0/0/31/31 200 323 - - ----
//!     16/16/14/14/+1 0/0 {08b2...} {true} "POST /v1/transfers HTTP/1.1"
//! ```
//! (one line in the log).
//!
//! (`+1`: resent once, to another instance; `{true}`: answered from the idempotency record). A request cut by
//! a kill that the balancer may not resend often leaves no line at all (HAProxy 2.6 closes the client's
//! connection, or answers 502): the first try of an action kage-core then resends is not in the log, so a key
//! appears once however often it was sent, and the client's own figures count the cut requests.

use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct BalancerLog {
    /// Distinct idempotency keys of transfers.
    pub keys: i64,
    pub keyless_transfers: usize,
    /// Transfers the balancer sent to another instance after the first one failed them (a kill): either the
    /// connection failed (the request never left), or the instance closed it without an answer.
    pub resent: usize,
    /// Transfers answered from the idempotency record (`Idempotent-Replayed: true`): carried out before, by a
    /// try whose answer was lost, and resent with the same key (by the balancer, or by kage-core).
    pub replayed: usize,
    /// Transfers answered with a 5xx.
    pub failed: usize,
    /// Event streams ended from the server's side (`S` termination flag: a kill).
    pub streams_cut: usize,
}

impl BalancerLog {
    pub fn read(log: &str) -> Self {
        let mut figures = Self::default();
        let mut keys: HashSet<&str> = HashSet::new();
        for line in log.lines() {
            let Some((head, request)) = line.split_once('"') else { continue };
            let fields: Vec<&str> = head.split_whitespace().collect();
            // client [date] frontend backend/server timers status bytes - - flags conns queues {key} {replayed}
            if fields.len() < 14 || !fields[0].contains(':') {
                continue;
            }
            let (status, flags) = (fields[5], fields[9]);
            let retries = fields[10].rsplit('/').next().unwrap_or("0").trim_start_matches('+');
            let capture = |n: usize| fields[12 + n].trim_matches(|c| c == '{' || c == '}');
            if request.starts_with("POST /v1/transfers") {
                match capture(0) {
                    "" => figures.keyless_transfers += 1,
                    key => {
                        keys.insert(key);
                    }
                }
                figures.resent += usize::from(retries != "0");
                figures.replayed += usize::from(capture(1) == "true");
                figures.failed += usize::from(status.starts_with('5'));
            } else if request.starts_with("GET /v1/events") {
                figures.streams_cut += usize::from(flags.starts_with('S'));
            }
        }
        figures.keys = keys.len() as i64;
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_resends_replays_and_cut_streams() {
        let log = [
            "127.0.0.1:1 [28/Nov/2026:04:04:31.555] kage instances/instance-1 0/0/0/48/48 200 780 - - ---- \
             15/15/3/2/0 0/0 {} {} \"POST /v1/sessions/refresh HTTP/1.1\"",
            "127.0.0.1:2 [28/Nov/2026:04:04:31.623] kage instances/instance-1 0/0/0/31/31 200 323 - - ---- \
             16/16/14/14/+1 0/0 {k1} {true} \"POST /v1/transfers HTTP/1.1\"",
            "127.0.0.1:3 [28/Nov/2026:04:04:31.624] kage instances/instance-0 0/0/0/31/31 200 323 - - ---- \
             16/16/14/14/0 0/0 {k2} {} \"POST /v1/transfers HTTP/1.1\"",
            "127.0.0.1:3 [28/Nov/2026:04:04:31.700] kage instances/instance-0 0/0/0/31/31 200 323 - - ---- \
             16/16/14/14/0 0/0 {k2} {true} \"POST /v1/transfers HTTP/1.1\"",
            "[WARNING]  (15164) : Server instances/instance-0 is DOWN, reason: Layer4 connection problem",
            "127.0.0.1:4 [28/Nov/2026:04:04:29.763] kage instances/instance-1 0/0/0/2/8024 200 164743 - - SD-- \
             16/16/12/2/0 0/0 {} {} \"GET /v1/events?viewer_id=x HTTP/1.1\"",
        ]
        .join("\n");
        let figures = BalancerLog::read(&log);
        assert_eq!(figures.keys, 2);
        assert_eq!(figures.resent, 1);
        assert_eq!(figures.replayed, 2);
        assert_eq!(figures.streams_cut, 1);
        assert_eq!((figures.keyless_transfers, figures.failed), (0, 0));
    }
}
