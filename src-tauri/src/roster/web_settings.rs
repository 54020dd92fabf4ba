//! What the player can change about a web account beside its name and proxy: whether the notifications its
//! game's page raises are shown, and the launch groups it is in (issue 19, item 5: Kage's comforts apply to web
//! accounts). Its own module so the web roster's other changes stay where they are.

use serde::{Deserialize, Serialize};

use super::entry::checked_groups;
use super::{Roster, WebAccount, WebRosterError};

/// A web account's notifications switch and launch groups, as the panel sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WebAccountSettings {
    pub notifications: bool,
    pub groups: Vec<String>,
}

impl WebAccountSettings {
    pub fn of(account: &WebAccount) -> Self {
        Self { notifications: account.notifications, groups: account.groups.clone() }
    }
}

impl Roster {
    /// Sets web account `id`'s notifications switch and groups (checked like a Kage account's groups).
    pub fn set_web_settings(&self, id: &str, settings: WebAccountSettings) -> Result<WebAccount, WebRosterError> {
        let groups = checked_groups(&settings.groups).map_err(WebRosterError::Invalid)?;
        let mut files = self.files();
        if !files.roster.doc.web_accounts.iter().any(|a| a.id == id) {
            return Err(WebRosterError::NotFound);
        }
        files.roster.change(|doc| {
            if let Some(account) = doc.web_accounts.iter_mut().find(|a| a.id == id) {
                account.notifications = settings.notifications;
                account.groups = groups;
            }
        })?;
        files.roster.doc.web_accounts.iter().find(|a| a.id == id).cloned().ok_or(WebRosterError::NotFound)
    }

    /// Forgets where web account `id`'s windows were (Forget): a forgotten account leaves no place behind, as a
    /// Kage account's removal does.
    pub fn forget_web_place(&self, id: &str) -> Result<(), super::RosterError> {
        self.files().layout.change(|doc| {
            doc.places.remove(id);
        })
    }

    /// The web accounts in `group` (every one for `None`), in the order added.
    pub fn web_members(&self, group: Option<&str>) -> Vec<WebAccount> {
        let accounts = self.web_accounts();
        accounts.into_iter().filter(|a| group.is_none_or(|name| a.groups.iter().any(|g| g == name))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Game;

    #[test]
    fn i13_a_web_accounts_notifications_are_on_until_turned_off_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        let game = Game::web(None, "https://game.example/").unwrap();
        roster.add_game(game.clone()).unwrap();
        let main = roster.add_web_account(&game.id, "main").unwrap();
        assert!(main.notifications, "on by default, like a Kage account's");
        let off = WebAccountSettings { notifications: false, groups: vec![] };
        roster.set_web_settings(&main.id, off).unwrap();
        let reopened = Roster::open(dir.path());
        assert!(!reopened.web_account(&main.id).unwrap().notifications);
    }

    #[test]
    fn a_web_account_joins_a_group_with_kage_accounts_and_the_group_lists_it() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        let game = Game::web(None, "https://game.example/").unwrap();
        roster.add_game(game.clone()).unwrap();
        let main = roster.add_web_account(&game.id, "main").unwrap();
        let alt = roster.add_web_account(&game.id, "alt").unwrap();
        let groups = vec![" Raid ".to_owned(), "raid".to_owned(), "Farm".to_owned()];
        let saved = roster.set_web_settings(&main.id, WebAccountSettings { notifications: true, groups }).unwrap();
        assert_eq!(saved.groups, vec!["Raid", "Farm"], "trimmed, each once");
        assert_eq!(roster.groups(), vec!["Raid", "Farm"]);
        let raid: Vec<String> = roster.web_members(Some("Raid")).into_iter().map(|a| a.id).collect();
        assert_eq!(raid, vec![main.id.clone()]);
        assert_eq!(roster.web_members(None).len(), 2);
        let too_long = WebAccountSettings { notifications: true, groups: vec!["x".repeat(40)] };
        assert!(matches!(roster.set_web_settings(&alt.id, too_long), Err(WebRosterError::Invalid(_))));
        assert!(matches!(
            roster.set_web_settings("nobody", WebAccountSettings::of(&alt)),
            Err(WebRosterError::NotFound)
        ));
    }

    #[test]
    fn a_forgotten_web_account_leaves_no_remembered_place() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        let place = crate::roster::Place { x: 130, y: 170, width: 700, height: 500 };
        roster.note_place("web-1", "main-id", place);
        roster.flush().unwrap();
        assert_eq!(Roster::open(dir.path()).place("main-id"), Some(place));
        roster.forget_web_place("main-id").unwrap();
        assert_eq!(Roster::open(dir.path()).place("main-id"), None);
    }
}
