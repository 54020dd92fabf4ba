//! Which saved account (or launch group) a name from a shell means, and the names `kage list` prints. Used by the
//! second process (against the roster file) and by the running instance (against its roster), so both read a
//! name the same way.
//!
//! A name may be an alias, the name Kage shows for the account (what `kage list` prints: `Account 2` in streamer
//! mode), or a username, each without regard to case, tried in that order; the first kind that names any account
//! decides. Two accounts answering to one name is not guessed between: the player is asked to give one an alias.

use crate::display::Presenter;
use crate::roster::RosterEntry;

/// What a name from a shell found among the saved accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<'a> {
    One(&'a RosterEntry),
    None,
    /// More than one account goes by the name.
    Several,
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The saved account `name` means (see the module comment).
pub fn find_account<'a>(entries: &'a [RosterEntry], presenter: &Presenter, name: &str) -> Found<'a> {
    let kinds: [&dyn Fn(&RosterEntry) -> bool; 3] = [
        &|entry| entry.alias.as_deref().is_some_and(|alias| same(alias, name)),
        &|entry| same(&presenter.name(entry), name),
        &|entry| same(&entry.username, name),
    ];
    for matches in kinds {
        let found: Vec<&RosterEntry> = entries.iter().filter(|entry| matches(entry)).collect();
        match found.as_slice() {
            [] => continue,
            [one] => return Found::One(one),
            _ => return Found::Several,
        }
    }
    Found::None
}

/// The launch group `name` means, as the roster spells it: the group of exactly that name, else the first one
/// whose name differs only in case (one account's groups never differ only in case; two accounts' may).
pub fn find_group(entries: &[RosterEntry], name: &str) -> Option<String> {
    let groups = || entries.iter().flat_map(|entry| entry.groups.iter());
    let name = name.trim();
    groups().find(|group| group.as_str() == name).or_else(|| groups().find(|group| same(group, name))).cloned()
}

/// The sentence for a name that opens nothing. It repeats only what the player typed: in streamer mode no other
/// account's name may reach a screen.
pub fn not_found(name: &str, found: &Found<'_>) -> String {
    match found {
        Found::Several => format!(
            "Several saved accounts go by \"{name}\"; give one of them an alias (Accounts, Settings) and open it by that."
        ),
        _ => format!("No saved account goes by \"{name}\". \"kage list\" shows the names Kage knows."),
    }
}

pub fn group_not_found(name: &str) -> String {
    format!("No launch group is called \"{name}\". \"kage list\" shows the groups Kage knows.")
}

/// What `kage list` prints: one line per saved account, its on-screen name (which `kage open` takes), then a tab
/// and its groups when it is in any. In streamer mode that name is the alias, or `Account N`: never a username.
pub fn list_lines(entries: &[RosterEntry], presenter: &Presenter) -> Vec<String> {
    entries
        .iter()
        .map(|entry| {
            let name = presenter.name(entry);
            if entry.groups.is_empty() { name } else { format!("{name}\t{}", entry.groups.join(", ")) }
        })
        .collect()
}

/// A saved account as the command line's tests make them: `user` on one server, with an alias and groups.
#[cfg(test)]
pub(crate) fn test_entry(user: &str, alias: Option<&str>, groups: &[&str]) -> RosterEntry {
    let origin = kage_core::ServerOrigin::parse("https://game.example").unwrap();
    RosterEntry {
        alias: alias.map(str::to_owned),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        ..RosterEntry::new(&kage_core::AccountKey::new(origin, format!("id-{user}")), user)
    }
}

#[cfg(test)]
mod tests {
    use kage_core::{AccountKey, ServerOrigin};

    use super::test_entry as entry;
    use super::*;

    fn roster() -> Vec<RosterEntry> {
        vec![
            entry("naruto", Some("Main"), &["raid"]),
            entry("sasuke", None, &["raid", "farm"]),
            entry("kiba", Some("Scout"), &[]),
        ]
    }

    fn found_user<'a>(found: Found<'a>) -> Option<&'a str> {
        match found {
            Found::One(entry) => Some(entry.username.as_str()),
            _ => None,
        }
    }

    #[test]
    fn an_account_is_found_by_alias_shown_name_or_username_whatever_the_case() {
        let entries = roster();
        let plain = Presenter::new(false, false, entries.clone());
        for (name, user) in [
            ("main", "naruto"),
            ("MAIN", "naruto"),
            ("Main (naruto)", "naruto"),
            ("naruto", "naruto"),
            ("Sasuke", "sasuke"),
            (" scout ", "kiba"),
        ] {
            assert_eq!(found_user(find_account(&entries, &plain, name)), Some(user), "{name}");
        }
        let streamer = Presenter::new(true, false, entries.clone());
        assert_eq!(
            found_user(find_account(&entries, &streamer, "Account 2")),
            Some("sasuke"),
            "the name the panel shows"
        );
        assert_eq!(found_user(find_account(&entries, &streamer, "Scout")), Some("kiba"));
        assert_eq!(find_account(&entries, &plain, "nobody"), Found::None);
        assert_eq!(find_account(&entries, &plain, "Account 2"), Found::None, "not a name outside streamer mode");
    }

    #[test]
    fn an_alias_wins_over_a_username_and_two_accounts_of_one_name_are_not_guessed_between() {
        // kiba's alias is another account's username: the alias decides.
        let entries = vec![entry("naruto", None, &[]), entry("kiba", Some("naruto"), &[])];
        let plain = Presenter::new(false, false, entries.clone());
        assert_eq!(found_user(find_account(&entries, &plain, "naruto")), Some("kiba"));
        // The same username on two servers, no aliases.
        let other = ServerOrigin::parse("https://other.example").unwrap();
        let twin = RosterEntry::new(&AccountKey::new(other, "id-naruto"), "naruto");
        let entries = vec![entry("naruto", None, &[]), twin];
        let plain = Presenter::new(false, false, entries.clone());
        let found = find_account(&entries, &plain, "naruto");
        assert_eq!(found, Found::Several);
        assert!(not_found("naruto", &found).contains("give one of them an alias"));
    }

    #[test]
    fn a_group_is_found_without_regard_to_case_and_keeps_its_own_spelling() {
        let entries = roster();
        assert_eq!(find_group(&entries, "RAID"), Some("raid".to_owned()));
        assert_eq!(find_group(&entries, "farm"), Some("farm".to_owned()));
        assert_eq!(find_group(&entries, "pvp"), None);
        assert!(group_not_found("pvp").contains("No launch group is called \"pvp\""));
    }

    #[test]
    fn the_list_names_accounts_as_the_panel_does_and_never_a_username_in_streamer_mode() {
        let entries = roster();
        let plain = list_lines(&entries, &Presenter::new(false, false, entries.clone()));
        assert_eq!(plain, ["Main (naruto)\traid", "sasuke\traid, farm", "Scout (kiba)"]);
        let streamer = list_lines(&entries, &Presenter::new(true, false, entries.clone()));
        assert_eq!(streamer, ["Main\traid", "Account 2\traid, farm", "Scout"]);
        let printed = streamer.join("\n");
        for username in ["naruto", "sasuke", "kiba"] {
            assert!(!printed.contains(username), "{printed}");
        }
        // Every name printed opens its own account.
        for (line, entry) in streamer.iter().zip(&entries) {
            let name = line.split('\t').next().unwrap();
            let presenter = Presenter::new(true, false, entries.clone());
            assert_eq!(find_account(&entries, &presenter, name), Found::One(entry), "{name}");
        }
    }

    #[test]
    fn the_sentence_for_an_unknown_name_repeats_only_what_was_typed() {
        let sentence = not_found("nobody", &Found::None);
        assert_eq!(sentence, "No saved account goes by \"nobody\". \"kage list\" shows the names Kage knows.");
    }
}
