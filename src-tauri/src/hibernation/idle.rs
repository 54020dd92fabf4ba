//! Which account windows are due to hibernate: how long each has been out of the player's sight (hidden,
//! minimised, or, as an option, without the focus), which are asleep, and the cap on live windows. Pure
//! bookkeeping with the time passed in, so it is tested without windows or clocks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The player's hibernation settings, as the ticker applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long a window must be out of sight before it gives up its web process; `None`: never by time.
    pub after: Option<Duration>,
    /// A window that is shown but has not had the focus counts as out of sight too.
    pub unfocused: bool,
    /// At most this many account windows keep their web process: beyond it, windows out of sight hibernate at
    /// once, longest out of sight first, without waiting for `after`. `None`: no cap.
    pub cap: Option<usize>,
}

/// What a window looks like to the player right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub visible: bool,
    pub minimized: bool,
    pub focused: bool,
}

impl Seen {
    /// Out of the player's sight, as `policy` counts it.
    fn out_of_sight(self, policy: &Policy) -> bool {
        !self.visible || self.minimized || (policy.unfocused && !self.focused)
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Since when the window has been out of sight; `None` while the player can see it.
    out_since: Option<Instant>,
    asleep: bool,
}

/// What [`IdleBook::observe`] asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The window is asleep and in sight again: give it its page back.
    Wake,
    /// The window has just gone out of sight: its delay starts now.
    OutOfSight,
}

#[derive(Debug, Default)]
pub struct IdleBook {
    windows: HashMap<String, Entry>,
}

impl IdleBook {
    /// Records how `label` looks at `now`. An asleep window the player can see again is to be woken.
    pub fn observe(&mut self, label: &str, seen: Seen, policy: &Policy, now: Instant) -> Option<Change> {
        let entry = self.windows.entry(label.to_owned()).or_insert(Entry { out_since: None, asleep: false });
        if seen.out_of_sight(policy) {
            let newly = entry.out_since.is_none() && !entry.asleep;
            entry.out_since.get_or_insert(now);
            return newly.then_some(Change::OutOfSight);
        }
        entry.out_since = None;
        entry.asleep.then_some(Change::Wake)
    }

    /// The windows to hibernate now: out of sight for `policy.after`, then, while more than `policy.cap` would
    /// stay live, the other out-of-sight ones, longest out of sight first. A window in sight never is.
    pub fn due(&self, policy: &Policy, now: Instant) -> Vec<String> {
        let mut waiting: Vec<(Instant, &String)> = self
            .windows
            .iter()
            .filter(|(_, entry)| !entry.asleep)
            .filter_map(|(label, entry)| Some((entry.out_since?, label)))
            .collect();
        waiting.sort();
        let mut due: Vec<String> = Vec::new();
        let mut rest = Vec::new();
        for (since, label) in waiting {
            match policy.after {
                Some(after) if now.saturating_duration_since(since) >= after => due.push(label.clone()),
                _ => rest.push(label.clone()),
            }
        }
        if let Some(cap) = policy.cap {
            let live = self.windows.values().filter(|entry| !entry.asleep).count() - due.len();
            due.extend(rest.into_iter().take(live.saturating_sub(cap)));
        }
        due
    }

    pub fn mark_asleep(&mut self, label: &str) {
        if let Some(entry) = self.windows.get_mut(label) {
            entry.asleep = true;
        }
    }

    /// Marks `label` awake; true when it was asleep (its page is to be loaded again).
    pub fn mark_awake(&mut self, label: &str) -> bool {
        self.windows.get_mut(label).is_some_and(|entry| std::mem::replace(&mut entry.asleep, false))
    }

    pub fn is_asleep(&self, label: &str) -> bool {
        self.windows.get(label).is_some_and(|entry| entry.asleep)
    }

    /// Forgets windows that are gone (closed, or no longer an account's).
    pub fn keep_only(&mut self, labels: &[String]) {
        self.windows.retain(|label, _| labels.contains(label));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOWN: Seen = Seen { visible: true, minimized: false, focused: false };
    const FOCUSED: Seen = Seen { visible: true, minimized: false, focused: true };
    const MINIMISED: Seen = Seen { visible: true, minimized: true, focused: false };
    const HIDDEN: Seen = Seen { visible: false, minimized: false, focused: false };

    fn policy(after_secs: u64) -> Policy {
        Policy { after: Some(Duration::from_secs(after_secs)), unfocused: false, cap: None }
    }

    #[test]
    fn a_minimised_or_hidden_window_is_due_only_after_the_delay() {
        let (mut book, start, p) = (IdleBook::default(), Instant::now(), policy(60));
        book.observe("acct-1", MINIMISED, &p, start);
        book.observe("acct-2", HIDDEN, &p, start);
        book.observe("acct-3", SHOWN, &p, start);
        assert!(book.due(&p, start + Duration::from_secs(59)).is_empty());
        let mut due = book.due(&p, start + Duration::from_secs(60));
        due.sort();
        assert_eq!(due, ["acct-1", "acct-2"]);
    }

    #[test]
    fn coming_back_into_sight_restarts_the_clock_and_wakes_an_asleep_window() {
        let (mut book, start, p) = (IdleBook::default(), Instant::now(), policy(60));
        book.observe("acct-1", MINIMISED, &p, start);
        assert_eq!(book.observe("acct-1", FOCUSED, &p, start + Duration::from_secs(30)), None);
        book.observe("acct-1", MINIMISED, &p, start + Duration::from_secs(40));
        assert!(book.due(&p, start + Duration::from_secs(90)).is_empty(), "the clock restarted at 40 s");
        assert_eq!(book.due(&p, start + Duration::from_secs(100)), ["acct-1"]);
        book.mark_asleep("acct-1");
        assert!(book.is_asleep("acct-1"));
        assert!(book.due(&p, start + Duration::from_secs(200)).is_empty(), "asleep already");
        assert_eq!(book.observe("acct-1", SHOWN, &p, start + Duration::from_secs(201)), Some(Change::Wake));
        assert!(book.mark_awake("acct-1"));
        assert!(!book.mark_awake("acct-1"), "woken once");
    }

    #[test]
    fn an_unfocused_window_counts_as_out_of_sight_only_with_the_option() {
        let (mut book, start) = (IdleBook::default(), Instant::now());
        let plain = policy(10);
        let unfocused = Policy { unfocused: true, ..plain };
        book.observe("acct-1", SHOWN, &plain, start);
        assert!(book.due(&plain, start + Duration::from_secs(20)).is_empty());
        book.observe("acct-1", SHOWN, &unfocused, start);
        book.observe("acct-2", FOCUSED, &unfocused, start);
        assert_eq!(book.due(&unfocused, start + Duration::from_secs(10)), ["acct-1"]);
    }

    #[test]
    fn the_cap_hibernates_the_longest_out_of_sight_first_and_never_a_window_in_sight() {
        let (mut book, start) = (IdleBook::default(), Instant::now());
        let capped = Policy { after: None, unfocused: false, cap: Some(2) };
        for (n, seen) in [FOCUSED, SHOWN, MINIMISED, HIDDEN, MINIMISED].into_iter().enumerate() {
            book.observe(&format!("acct-{n}"), seen, &capped, start + Duration::from_secs(n as u64));
        }
        // Five live, cap two: three must go, and only the three out of sight can, oldest first.
        assert_eq!(book.due(&capped, start + Duration::from_secs(10)), ["acct-2", "acct-3", "acct-4"]);
        let tight = Policy { cap: Some(0), ..capped };
        assert_eq!(book.due(&tight, start + Duration::from_secs(10)).len(), 3, "acct-0 and acct-1 are in sight");
        let roomy = Policy { cap: Some(3), ..capped };
        assert_eq!(book.due(&roomy, start + Duration::from_secs(10)), ["acct-2", "acct-3"]);
    }

    #[test]
    fn windows_due_by_time_count_against_the_cap() {
        let (mut book, start) = (IdleBook::default(), Instant::now());
        let p = Policy { after: Some(Duration::from_secs(60)), unfocused: false, cap: Some(1) };
        book.observe("acct-1", HIDDEN, &p, start);
        book.observe("acct-2", HIDDEN, &p, start + Duration::from_secs(50));
        book.observe("acct-3", FOCUSED, &p, start);
        // acct-1 by time; then live are acct-2 and acct-3, one too many: acct-2 goes too.
        assert_eq!(book.due(&p, start + Duration::from_secs(60)), ["acct-1", "acct-2"]);
    }

    #[test]
    fn closed_windows_are_forgotten() {
        let (mut book, start, p) = (IdleBook::default(), Instant::now(), policy(1));
        book.observe("acct-1", HIDDEN, &p, start);
        book.mark_asleep("acct-1");
        book.keep_only(&[]);
        assert!(!book.is_asleep("acct-1"));
        assert!(book.due(&p, start + Duration::from_secs(5)).is_empty());
    }
}
