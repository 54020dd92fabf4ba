//! Proof that an instance hears: it `NOTIFY`s a channel of its own every [`HeartbeatTiming::every`] through its
//! ordinary pool, the same way a revocation travels, and must hear each beat on its listening connection.
//!
//! A listening connection can die without a word: a NAT or firewall forgets an idle TCP connection, and nothing
//! arrives any more, not even an error. Nothing but traffic can tell. So a beat whose `NOTIFY` committed more
//! than [`HeartbeatTiming::within`] ago and has not been heard means the listener is deaf. A beat whose
//! `NOTIFY` cannot even be sent (the database is unreachable, or it holds commits) is not held against the
//! listener until [`HeartbeatTiming::send_within`]: a commit waiting on the database is not a deaf listener,
//! and every notification it would carry waits with it.
//!
//! Each beat carries a random nonce, so a notification forged on the channel (any role may `NOTIFY`) cannot
//! stand in for one.

use std::time::{Duration, Instant};

/// How often an instance checks that it hears, and how long it waits.
#[derive(Debug, Clone, Copy)]
pub struct HeartbeatTiming {
    /// A beat is sent this often (and the deadline checked at the same pace).
    pub every: Duration,
    /// A beat sent (its `NOTIFY` committed) must be heard within this.
    pub within: Duration,
    /// A beat that cannot be sent for this long counts as not heard too.
    pub send_within: Duration,
}

impl Default for HeartbeatTiming {
    fn default() -> Self {
        Self { every: Duration::from_millis(500), within: Duration::from_secs(2), send_within: Duration::from_secs(10) }
    }
}

impl HeartbeatTiming {
    /// The longest a listening connection can be gone before the instance says it does not hear: a beat may
    /// be sent just before the loss, is then overdue `within` after it was sent, and the deadline is looked at
    /// every `every`.
    pub fn detection_bound(&self) -> Duration {
        self.every + self.within + self.every
    }
}

/// The beat in flight, if any: one at a time.
pub struct Heartbeat {
    channel: String,
    beat: Option<Beat>,
}

struct Beat {
    nonce: String,
    started: Instant,
    /// When its `NOTIFY` committed; `None` while sending (or after a failed send, until the next try).
    sent: Option<Instant>,
    sending: bool,
}

/// Why the listener must reconnect: its beat was not heard in time.
#[derive(Debug)]
pub struct Overdue {
    pub waited: Duration,
    pub sent: bool,
}

impl Default for Heartbeat {
    /// A heartbeat on a channel of its own: random per start, so no two instances share one.
    fn default() -> Self {
        Self { channel: format!("kage_heartbeat_{}", uuid::Uuid::new_v4().simple()), beat: None }
    }
}

impl Heartbeat {
    /// The channel this instance beats on (and listens to).
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Forgets the beat in flight (a new connection starts afresh).
    pub fn reset(&mut self) {
        self.beat = None;
    }

    /// The nonce to send now, if a beat is to be sent: a new one when none is in flight, the same one again
    /// when the last send failed.
    pub fn to_send(&mut self) -> Option<String> {
        match &mut self.beat {
            None => {
                let nonce = uuid::Uuid::new_v4().simple().to_string();
                self.beat = Some(Beat { nonce: nonce.clone(), started: Instant::now(), sent: None, sending: true });
                Some(nonce)
            }
            Some(beat) if !beat.sending && beat.sent.is_none() => {
                beat.sending = true;
                Some(beat.nonce.clone())
            }
            Some(_) => None,
        }
    }

    /// The send of `nonce` ended: committed, or failed (it is sent again on the next tick).
    pub fn sent(&mut self, nonce: &str, committed: bool) {
        if let Some(beat) = self.beat.as_mut().filter(|beat| beat.nonce == nonce) {
            beat.sending = false;
            if committed {
                beat.sent = Some(Instant::now());
            }
        }
    }

    /// Whether `payload` is the beat in flight; if so it is done, and the time since it was sent is returned.
    pub fn heard(&mut self, payload: &str) -> Option<Duration> {
        let beat = self.beat.as_ref().filter(|beat| beat.nonce == payload)?;
        let round_trip = beat.started.elapsed();
        self.beat = None;
        Some(round_trip)
    }

    /// The beat in flight, if it is past its deadline.
    pub fn overdue(&self, timing: &HeartbeatTiming) -> Option<Overdue> {
        let beat = self.beat.as_ref()?;
        if let Some(sent) = beat.sent
            && sent.elapsed() > timing.within
        {
            return Some(Overdue { waited: sent.elapsed(), sent: true });
        }
        (beat.started.elapsed() > timing.send_within).then(|| Overdue { waited: beat.started.elapsed(), sent: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> HeartbeatTiming {
        HeartbeatTiming {
            every: Duration::from_millis(5),
            within: Duration::from_millis(20),
            send_within: Duration::from_millis(60),
        }
    }

    #[test]
    fn a_beat_heard_in_time_is_never_overdue_and_only_its_own_nonce_counts() {
        let mut heartbeat = Heartbeat::default();
        let nonce = heartbeat.to_send().unwrap();
        assert_eq!(heartbeat.to_send(), None, "one beat at a time");
        heartbeat.sent(&nonce, true);
        assert!(heartbeat.heard("forged").is_none(), "a notification that is not the nonce is not the beat");
        assert!(heartbeat.heard(&nonce).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(heartbeat.overdue(&quick()).is_none());
    }

    #[test]
    fn a_beat_sent_and_not_heard_is_overdue_after_the_bound() {
        let mut heartbeat = Heartbeat::default();
        let nonce = heartbeat.to_send().unwrap();
        heartbeat.sent(&nonce, true);
        assert!(heartbeat.overdue(&quick()).is_none());
        std::thread::sleep(Duration::from_millis(30));
        assert!(heartbeat.overdue(&quick()).is_some_and(|late| late.sent));
    }

    #[test]
    fn a_beat_that_cannot_be_sent_is_retried_and_overdue_only_after_the_longer_bound() {
        let mut heartbeat = Heartbeat::default();
        let nonce = heartbeat.to_send().unwrap();
        heartbeat.sent(&nonce, false);
        assert_eq!(heartbeat.to_send().as_deref(), Some(nonce.as_str()), "the same beat again");
        std::thread::sleep(Duration::from_millis(30));
        assert!(heartbeat.overdue(&quick()).is_none(), "a send still under way is not a deaf listener yet");
        std::thread::sleep(Duration::from_millis(40));
        assert!(heartbeat.overdue(&quick()).is_some_and(|late| !late.sent));
    }
}
