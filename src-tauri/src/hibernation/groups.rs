//! Which account windows share a web process (issue 22, item 3: related views in small groups). A group is one
//! web process: a window made as a related view of a member joins that member's group; a window whose page was
//! loaded again after hibernating has a process of its own, so it leaves its group for a new one. Hibernation
//! ends a group's process only when every member is out of sight long enough (ending it for one member would
//! end it for all).

use std::collections::{HashMap, HashSet};

/// At most this many windows share one web process: ten windows in four processes. Smaller groups hibernate
/// sooner (every member must be out of sight); larger ones save more while all are shown (docs/benchmarks.md).
pub const GROUP_SIZE: usize = 3;

/// The group size: [`GROUP_SIZE`], or `KAGE_WINDOWS_PER_WEB_PROCESS` (1 to 20) for the memory bench's comparisons.
fn group_size() -> usize {
    std::env::var("KAGE_WINDOWS_PER_WEB_PROCESS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=20).contains(n))
        .unwrap_or(GROUP_SIZE)
}

#[derive(Debug)]
pub struct Groups {
    group_of: HashMap<String, u64>,
    /// Windows given a seat in a group and still being made: they count against their group's size (windows are
    /// made side by side, as "Open all" and a restart do) but no window is made related to them yet.
    being_made: HashSet<String>,
    next: u64,
    size: usize,
}

impl Default for Groups {
    fn default() -> Self {
        Self::of_size(group_size())
    }
}

impl Groups {
    pub fn of_size(size: usize) -> Self {
        Self { group_of: HashMap::new(), being_made: HashSet::new(), next: 0, size }
    }

    /// A seat for the window `label` about to be made: in the group of the returned anchor, whose process it is to
    /// share, or in a group of its own (`None`). Taken before the window is built, under the same lock as the
    /// choice, so windows made side by side cannot all pick the same group's last seat.
    pub fn reserve(&mut self, label: &str, asleep: impl Fn(&str) -> bool) -> Option<String> {
        let anchor = self.anchor(asleep);
        self.join(label, anchor.as_deref());
        self.being_made.insert(label.to_owned());
        anchor
    }

    /// The window `label` exists now: pruned with the others once it is gone.
    pub fn made(&mut self, label: &str) {
        self.being_made.remove(label);
    }

    /// `label` was made as a related view of `anchor` (its process), or with a process of its own.
    pub fn join(&mut self, label: &str, anchor: Option<&str>) {
        let group = match anchor.and_then(|anchor| self.group_of.get(anchor)) {
            Some(&group) => group,
            None => self.fresh(),
        };
        self.group_of.insert(label.to_owned(), group);
    }

    /// `label`'s page was loaded again in a process of its own.
    pub fn alone(&mut self, label: &str) {
        let group = self.fresh();
        self.group_of.insert(label.to_owned(), group);
    }

    fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub fn forget(&mut self, label: &str) {
        self.group_of.remove(label);
        self.being_made.remove(label);
    }

    /// Forgets windows that are gone (not those being made).
    pub fn keep_only(&mut self, labels: &[String]) {
        let being_made = &self.being_made;
        self.group_of.retain(|label, _| labels.contains(label) || being_made.contains(label));
    }

    /// Every window sharing `label`'s process, `label` included.
    pub fn members(&self, label: &str) -> Vec<String> {
        let Some(group) = self.group_of.get(label) else { return vec![label.to_owned()] };
        let mut members: Vec<String> =
            self.group_of.iter().filter(|(_, g)| *g == group).map(|(l, _)| l.clone()).collect();
        members.sort();
        members
    }

    /// A window whose process a new window may share: a group with room, every member awake, and of its members
    /// one that exists already.
    pub fn anchor(&self, asleep: impl Fn(&str) -> bool) -> Option<String> {
        let mut sizes: HashMap<u64, Vec<&String>> = HashMap::new();
        for (label, group) in &self.group_of {
            sizes.entry(*group).or_default().push(label);
        }
        let mut open: Vec<(u64, Vec<&String>)> = sizes
            .into_iter()
            .filter(|(_, members)| members.len() < self.size && members.iter().all(|label| !asleep(label)))
            .collect();
        open.sort();
        open.into_iter()
            .find_map(|(_, members)| members.into_iter().filter(|label| !self.being_made.contains(*label)).min())
            .cloned()
    }

    /// Of the windows `due` to hibernate, those whose whole group is due or asleep already: the rest wait for
    /// their group.
    pub fn whole(&self, due: &[String], asleep: impl Fn(&str) -> bool) -> Vec<String> {
        let due_set: HashSet<&str> = due.iter().map(String::as_str).collect();
        due.iter()
            .filter(|label| self.members(label).iter().all(|m| due_set.contains(m.as_str()) || asleep(m)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_windows_share_a_process_in_groups_of_at_most_the_group_size() {
        let mut groups = Groups::of_size(GROUP_SIZE);
        let awake = |_: &str| false;
        for n in 1..=7 {
            let anchor = groups.anchor(awake);
            groups.join(&format!("acct-{n}"), anchor.as_deref());
        }
        assert_eq!(groups.members("acct-1"), ["acct-1", "acct-2", "acct-3"]);
        assert_eq!(groups.members("acct-4"), ["acct-4", "acct-5", "acct-6"]);
        assert_eq!(groups.members("acct-7"), ["acct-7"]);
    }

    #[test]
    fn windows_made_side_by_side_take_their_seats_before_they_exist_and_are_kept_until_made() {
        let mut groups = Groups::of_size(GROUP_SIZE);
        assert_eq!(groups.reserve("acct-1", |_| false), None);
        groups.made("acct-1");
        // acct-2 and acct-3 are being made at once (no `made` yet): both count against acct-1's group, and a
        // tick pruning closed windows in between keeps them.
        assert_eq!(groups.reserve("acct-2", |_| false).as_deref(), Some("acct-1"));
        assert_eq!(groups.reserve("acct-3", |_| false).as_deref(), Some("acct-1"));
        groups.keep_only(&["acct-1".to_owned()]);
        assert_eq!(groups.members("acct-1"), ["acct-1", "acct-2", "acct-3"]);
        // The group is full: acct-4 gets a process of its own, and nobody is made related to a window not made.
        assert_eq!(groups.reserve("acct-4", |_| false), None);
        assert_eq!(groups.reserve("acct-5", |_| false), None, "related to acct-4, still being made");
        groups.made("acct-2");
        groups.keep_only(&["acct-1".to_owned()]);
        assert_eq!(groups.members("acct-1"), ["acct-1", "acct-3"], "acct-2, made and gone, is forgotten");
    }

    #[test]
    fn no_window_joins_a_group_with_a_sleeping_member() {
        let mut groups = Groups::of_size(GROUP_SIZE);
        groups.join("acct-1", None);
        groups.join("acct-2", Some("acct-1"));
        assert_eq!(groups.anchor(|label| label == "acct-2"), None);
        assert_eq!(groups.anchor(|_| false).as_deref(), Some("acct-1"));
    }

    #[test]
    fn a_group_hibernates_only_when_every_member_is_due_or_asleep() {
        let mut groups = Groups::of_size(GROUP_SIZE);
        groups.join("acct-1", None);
        groups.join("acct-2", Some("acct-1"));
        groups.join("acct-3", None);
        let due = vec!["acct-2".to_owned(), "acct-3".to_owned()];
        assert_eq!(groups.whole(&due, |_| false), ["acct-3"], "acct-1 is in sight: acct-2 waits");
        assert_eq!(groups.whole(&due, |label| label == "acct-1"), ["acct-2", "acct-3"]);
    }

    #[test]
    fn a_window_loaded_again_has_a_process_of_its_own_and_a_closed_one_is_forgotten() {
        let mut groups = Groups::of_size(GROUP_SIZE);
        groups.join("acct-1", None);
        groups.join("acct-2", Some("acct-1"));
        groups.alone("acct-2");
        assert_eq!(groups.members("acct-1"), ["acct-1"]);
        assert_eq!(groups.members("acct-2"), ["acct-2"]);
        groups.forget("acct-1");
        assert_eq!(groups.members("acct-1"), ["acct-1"], "unknown: alone");
    }
}
