//! How accounts are named on screen: window titles, the tray, notifications and everything sent to a page go
//! through a [`Presenter`], so streamer mode is decided in one place and nothing shown can skip it.
//!
//! In streamer mode an account is shown by its alias (or "Account N", its place in the saved list), never by
//! its username; user ids and server addresses are not shown at all, and balances can be hidden.

use kage_core::model::Profile;

use crate::roster::{Game, RosterEntry, WebAccount};

/// Shown instead of a player's name in streamer mode when the player is not one of the saved accounts.
const SOMEONE: &str = "another player";

pub struct Presenter {
    streamer: bool,
    hide_balances: bool,
    roster: Vec<RosterEntry>,
    web_accounts: Vec<WebAccount>,
    games: Vec<Game>,
}

impl Presenter {
    /// Why an account is offline, as the page may say it: in streamer mode a proxy's address is not shown.
    pub fn offline_cause(&self, cause: kage_core::offline::OfflineCause) -> kage_core::offline::OfflineCause {
        match cause {
            kage_core::offline::OfflineCause::Proxy { .. } if self.streamer() => {
                kage_core::offline::OfflineCause::Proxy { proxy: String::new() }
            }
            cause => cause,
        }
    }

    pub fn new(streamer: bool, hide_balances: bool, roster: Vec<RosterEntry>) -> Self {
        Self { streamer, hide_balances, roster, web_accounts: Vec::new(), games: Vec::new() }
    }

    /// The same, naming web accounts too.
    pub fn with_web(self, web_accounts: Vec<WebAccount>, games: Vec<Game>) -> Self {
        Self { web_accounts, games, ..self }
    }

    /// The name a web account goes by on screen: the player's name for it is treated like a username (the
    /// site's, for all Kage knows), so streamer mode shows its alias or "Web account N" instead.
    pub fn web_name(&self, account: &WebAccount) -> String {
        let position = self.web_accounts.iter().position(|a| a.id == account.id).map_or(0, |n| n + 1);
        match (&account.alias, self.streamer) {
            (Some(alias), true) => alias.clone(),
            (None, true) => format!("Web account {position}"),
            (Some(alias), false) => format!("{alias} ({})", account.name),
            (None, false) => account.name.clone(),
        }
    }

    /// A web window's title: its account's on-screen name and its game.
    pub fn web_title(&self, account_id: &str) -> String {
        let Some(account) = self.web_accounts.iter().find(|a| a.id == account_id) else { return "Kage".to_owned() };
        match self.games.iter().find(|g| g.id == account.game) {
            Some(game) => format!("{} · {} · Kage", self.web_name(account), game.name),
            None => format!("{} · Kage", self.web_name(account)),
        }
    }

    pub fn streamer(&self) -> bool {
        self.streamer
    }

    /// Balances are hidden (streamer mode with "hide balances").
    pub fn hides_balances(&self) -> bool {
        self.streamer && self.hide_balances
    }

    /// The name an account goes by on screen.
    pub fn name(&self, entry: &RosterEntry) -> String {
        match (&entry.alias, self.streamer) {
            (Some(alias), true) => alias.clone(),
            (None, true) => format!("Account {}", self.position(&entry.id).map_or(0, |n| n + 1)),
            (Some(alias), false) => format!("{alias} ({})", entry.username),
            (None, false) => entry.username.clone(),
        }
    }

    /// The name of the account with this id, if it is saved here.
    pub fn name_of(&self, account_id: &str) -> Option<String> {
        self.roster.iter().find(|e| e.id == account_id).map(|e| self.name(e))
    }

    /// A window's title: its account's name, or plain "Kage" on the sign-in screen.
    pub fn title(&self, account_id: Option<&str>) -> String {
        match account_id.and_then(|id| self.name_of(id)) {
            Some(name) => format!("{name} · Kage"),
            None => "Kage".to_owned(),
        }
    }

    /// Another player named in an event (who sent ryo): a saved account by its on-screen name; in streamer
    /// mode anyone else is "another player", since a username can lead back to whoever is streaming.
    pub fn player(&self, username: &str) -> String {
        let saved = self.roster.iter().find(|e| e.username.eq_ignore_ascii_case(username));
        match (saved, self.streamer) {
            (Some(entry), _) => self.name(entry),
            (None, true) => SOMEONE.to_owned(),
            (None, false) => username.to_owned(),
        }
    }

    /// A profile as a page may show it: in streamer mode the username is the account's on-screen name and the
    /// user id is replaced by the (opaque) account id.
    pub fn profile(&self, account_id: &str, mut profile: Profile) -> Profile {
        if self.streamer {
            profile.username = self.name_of(account_id).unwrap_or_else(|| SOMEONE.to_owned());
            profile.id = account_id.to_owned();
            if self.hide_balances {
                profile.ryo = 0;
            }
        }
        profile
    }

    /// A server address as shown: hidden in streamer mode.
    pub fn server(&self, origin: &str) -> String {
        if self.streamer { String::new() } else { origin.to_owned() }
    }

    /// An amount of ryo as shown in a sentence.
    pub fn amount(&self, ryo: i64) -> String {
        if self.hides_balances() { "some".to_owned() } else { ryo.to_string() }
    }

    fn position(&self, account_id: &str) -> Option<usize> {
        self.roster.iter().position(|e| e.id == account_id)
    }
}

#[cfg(test)]
mod tests {
    use kage_core::model::Stats;
    use kage_core::{AccountKey, ServerOrigin};

    use super::*;

    fn entry(user: &str, alias: Option<&str>) -> RosterEntry {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        RosterEntry { alias: alias.map(str::to_owned), ..RosterEntry::new(&AccountKey::new(origin, user), user) }
    }

    fn profile(user: &str) -> Profile {
        Profile {
            id: format!("id-{user}"),
            username: user.to_owned(),
            level: 3,
            xp: 250,
            village: "Leaf".into(),
            ryo: 1200,
            stats: Stats { strength: 1, agility: 2, chakra: 3 },
            version: 7,
            updated_at: "2026-11-27T00:00:00Z".into(),
            rules: None,
        }
    }

    #[test]
    fn streamer_mode_shows_aliases_and_never_a_username_user_id_or_server() {
        let roster = vec![entry("naruto", Some("Main")), entry("sasuke", None)];
        let (main, alt) = (roster[0].clone(), roster[1].clone());
        let on = Presenter::new(true, true, roster.clone());
        assert_eq!((on.name(&main), on.name(&alt)), ("Main".to_owned(), "Account 2".to_owned()));
        assert_eq!(on.title(Some(&alt.id)), "Account 2 · Kage");
        assert_eq!(on.player("SASUKE"), "Account 2");
        assert_eq!(on.player("stranger"), "another player");
        assert_eq!(on.server("https://game.example"), "");
        let shown = on.profile(&main.id, profile("naruto"));
        assert_eq!((shown.username.as_str(), shown.id.as_str(), shown.ryo), ("Main", main.id.as_str(), 0));
        assert_eq!(on.amount(25), "some");

        let off = Presenter::new(false, true, roster);
        assert_eq!((off.name(&main), off.name(&alt)), ("Main (naruto)".to_owned(), "sasuke".to_owned()));
        assert_eq!(off.profile(&main.id, profile("naruto")), profile("naruto"));
        assert_eq!(off.amount(25), "25", "balances are only hidden in streamer mode");
    }

    #[test]
    fn streamer_mode_never_shows_a_web_accounts_name_in_titles() {
        let game = Game::web(Some("Ninja Web"), "https://game.example/").unwrap();
        let web = |name: &str, alias: Option<&str>| WebAccount {
            id: crate::roster::opaque_id(),
            game: game.id.clone(),
            name: name.to_owned(),
            partition: crate::roster::opaque_id(),
            colour: "#3f8efc".to_owned(),
            alias: alias.map(str::to_owned),
            proxy: None,
            sign_in_origin: None,
            notifications: true,
            groups: Vec::new(),
        };
        let (main, alt) = (web("naruto", Some("Main")), web("sasuke", None));
        let accounts = vec![main.clone(), alt.clone()];
        let on = Presenter::new(true, false, Vec::new()).with_web(accounts.clone(), vec![game.clone()]);
        assert_eq!(on.web_title(&main.id), "Main · Ninja Web · Kage");
        assert_eq!(on.web_title(&alt.id), "Web account 2 · Ninja Web · Kage");
        let off = Presenter::new(false, false, Vec::new()).with_web(accounts, vec![game]);
        assert_eq!(off.web_title(&main.id), "Main (naruto) · Ninja Web · Kage");
        assert_eq!(off.web_name(&alt), "sasuke");
        assert_eq!(off.web_title("gone"), "Kage");
    }
}
