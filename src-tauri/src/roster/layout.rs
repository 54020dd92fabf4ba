//! The window layout: which window showed which account, where each of those windows was, and where each
//! account's window was last. Written to its own file (`windows.json`), under the roster's one lock.
//!
//! Two kinds of place, because two questions are asked: a restart puts every window back where *it* was (two
//! windows of main side by side come back side by side), and a new window of an account opens where that
//! *account's* window was last, whichever label it gets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Roster, RosterError};

/// Where an account's window was last, in physical pixels (so it comes back there, whichever window shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// Window label -> account id (`null`: the window shows the sign-in screen).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct LayoutDoc {
    pub(super) windows: BTreeMap<String, Option<String>>,
    /// Account id -> where its window was last.
    #[serde(default)]
    pub(super) places: BTreeMap<String, Place>,
    /// Window label -> where that window was last (for the restart that brings it back).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) window_places: BTreeMap<String, Place>,
    /// Launch group -> the template it opens in (see `roster/templates.rs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) group_templates: BTreeMap<String, crate::templates::Template>,
}

impl Roster {
    /// Where `account_id`'s window was last, if known.
    pub fn place(&self, account_id: &str) -> Option<Place> {
        self.files().layout.doc.places.get(account_id).copied()
    }

    /// Where the window `label` was last, if known (a restart puts it back there).
    pub fn window_place(&self, label: &str) -> Option<Place> {
        self.files().layout.doc.window_places.get(label).copied()
    }

    /// Remembers where the window `label`, showing `account_id`, is (written with the next layout change, see
    /// [`Roster::flush`]): a window being dragged reports many moves a second, and each need not be a disk
    /// write.
    pub fn note_place(&self, label: &str, account_id: &str, place: Place) {
        let mut files = self.files();
        files.layout.doc.places.insert(account_id.to_owned(), place);
        files.layout.doc.window_places.insert(label.to_owned(), place);
    }

    /// Writes the layout file with every place noted since the last write.
    pub fn flush(&self) -> Result<(), RosterError> {
        self.files().layout.change(|_| {})
    }

    /// Window label -> account id (`None`: the window shows the sign-in screen), in the windows' number order
    /// (`acct-2` before `acct-10`): a restart makes them in that order, so windows numbered side by side share
    /// web processes (docs/design.md, "Related views").
    pub fn layout(&self) -> Vec<(String, Option<String>)> {
        let mut layout: Vec<(String, Option<String>)> =
            self.files().layout.doc.windows.iter().map(|(label, id)| (label.clone(), id.clone())).collect();
        layout.sort_by_cached_key(|(label, _)| number_order(label));
        layout
    }

    pub fn set_layout(&self, label: &str, account_id: Option<&str>) -> Result<(), RosterError> {
        self.files().layout.change(|doc| {
            doc.windows.insert(label.to_owned(), account_id.map(str::to_owned));
        })
    }

    pub fn remove_from_layout(&self, label: &str) -> Result<(), RosterError> {
        self.files().layout.change(|doc| {
            doc.windows.remove(label);
            doc.window_places.remove(label);
        })
    }
}

/// A label's place in number order: its prefix, then the number it ends with (`acct-10` after `acct-9`).
fn number_order(label: &str) -> (String, u64, String) {
    let digits = label.len() - label.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, number) = label.split_at(label.len() - digits);
    (prefix.to_owned(), number.parse().unwrap_or(0), label.to_owned())
}
