//! The command line, before Tauri starts: what to print and with which exit status, or to go on and start Kage
//! (which hands the arguments to a running Kage, see the module comment of `cli`).
//!
//! The saved accounts and preferences are read here as plain files, never written and never moved aside (the
//! running Kage owns them; a damaged file is its to keep aside and report). No keychain, no network.

use std::path::Path;

use super::names::{self, Found};
use super::{Request, Target, USAGE};
use crate::display::Presenter;
use crate::prefs::Prefs;
use crate::roster::{self, RosterEntry};

/// What the command line comes to before any window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Start Kage (or hand over to the running one); `Some`: bring that account or group forward once up.
    Start(Option<Target>),
    /// Print and exit, without starting anything.
    Exit(Exit),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Exit {
    fn ok(stdout: String) -> Self {
        Self { code: 0, stdout, stderr: String::new() }
    }

    fn fail(code: i32, stderr: String) -> Self {
        Self { code, stdout: String::new(), stderr }
    }

    /// Prints what there is to print and ends the process.
    pub fn finish(self) -> ! {
        use std::io::Write;
        if !self.stdout.is_empty() {
            let _ = writeln!(std::io::stdout(), "{}", self.stdout);
        }
        if !self.stderr.is_empty() {
            let _ = writeln!(std::io::stderr(), "{}", self.stderr);
        }
        std::process::exit(self.code)
    }
}

/// Reads `args` (after the program's name) against the saved accounts in `data_dir` (Kage's data directory;
/// `None` when the system names none, and then every name is left for the app to find).
pub fn decide<I, S>(args: I, data_dir: Option<&Path>) -> Next
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let request = match super::parse(args) {
        Ok(request) => request,
        Err(usage) => return Next::Exit(Exit::fail(2, format!("{usage}\n{USAGE}"))),
    };
    let target = match request {
        Request::Start => return Next::Start(None),
        Request::Help => return Next::Exit(Exit::ok(USAGE.to_owned())),
        // Names no account: nothing to check here; the running Kage (or this one, once up) opens it.
        Request::Overview => return Next::Start(Some(Target::Overview)),
        Request::List => None,
        Request::Open(target) => Some(target),
    };
    let saved = match data_dir.map(Saved::read).transpose() {
        Ok(saved) => saved,
        Err(sentence) => return Next::Exit(Exit::fail(1, sentence)),
    };
    let Some(saved) = saved else {
        return match target {
            Some(target) => Next::Start(Some(target)),
            None => Next::Exit(Exit::fail(1, "Kage cannot tell where its saved accounts are kept.".to_owned())),
        };
    };
    let presenter = Presenter::new(saved.prefs.streamer_mode, saved.prefs.hide_balances, saved.entries.clone());
    match target {
        None if saved.entries.is_empty() => Next::Exit(Exit::ok("No saved accounts yet.".to_owned())),
        None => Next::Exit(Exit::ok(names::list_lines(&saved.entries, &presenter).join("\n"))),
        Some(Target::Account(name)) => match names::find_account(&saved.entries, &presenter, &name) {
            Found::One(_) => Next::Start(Some(Target::Account(name))),
            found => Next::Exit(Exit::fail(1, names::not_found(&name, &found))),
        },
        Some(Target::Group(name)) => match names::find_group(&saved.entries, &name) {
            Some(_) => Next::Start(Some(Target::Group(name))),
            None => Next::Exit(Exit::fail(1, names::group_not_found(&name))),
        },
        Some(Target::Overview) => Next::Start(Some(Target::Overview)),
    }
}

/// The saved accounts and preferences as the files hold them now.
struct Saved {
    entries: Vec<RosterEntry>,
    prefs: Prefs,
}

impl Saved {
    fn read(dir: &Path) -> Result<Self, String> {
        let entries = roster::read_only(dir).map_err(|_| {
            "Kage could not read its list of saved accounts; start Kage to see what is wrong.".to_owned()
        })?;
        // Preferences that cannot be read are taken to be in streamer mode: then nothing printed names a user.
        let prefs = crate::prefs::read_only(dir).unwrap_or(Prefs { streamer_mode: true, ..Prefs::default() });
        Ok(Self { entries, prefs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::names::test_entry as entry;

    fn saved_in(dir: &Path, entries: &[RosterEntry], streamer: bool) {
        let roster = crate::roster::Roster::open(dir);
        for entry in entries {
            roster.save(entry.clone()).unwrap();
            let settings = crate::roster::AccountSettings::of(entry);
            roster.set_settings(&entry.id, settings).unwrap();
        }
        let prefs = crate::prefs::PrefsFile::open(dir);
        prefs.set(Prefs { streamer_mode: streamer, ..Prefs::default() }).unwrap();
    }

    fn exit(next: Next) -> Exit {
        match next {
            Next::Exit(exit) => exit,
            Next::Start(target) => panic!("expected an exit, got a start for {target:?}"),
        }
    }

    #[test]
    fn a_known_name_starts_kage_and_an_unknown_one_exits_1_with_a_sentence() {
        let dir = tempfile::tempdir().unwrap();
        saved_in(dir.path(), &[entry("main", None, &["raid"]), entry("alt", None, &["raid"])], false);
        let at = Some(dir.path());
        assert_eq!(decide(["open", "alt"], at), Next::Start(Some(Target::Account("alt".into()))));
        assert_eq!(decide(["open", "--group", "RAID"], at), Next::Start(Some(Target::Group("RAID".into()))));
        assert_eq!(decide(Vec::<String>::new(), at), Next::Start(None));

        let nobody = exit(decide(["open", "nobody"], at));
        assert_eq!(nobody.code, 1);
        assert_eq!(nobody.stderr, "No saved account goes by \"nobody\". \"kage list\" shows the names Kage knows.");
        let no_group = exit(decide(["open", "--group", "pvp"], at));
        assert_eq!((no_group.code, no_group.stdout.as_str()), (1, ""));
        assert!(no_group.stderr.contains("No launch group is called \"pvp\""), "{no_group:?}");
    }

    #[test]
    fn usage_errors_exit_2_and_the_overview_starts_or_hands_over() {
        let dir = tempfile::tempdir().unwrap();
        let usage = exit(decide(["--bogus"], Some(dir.path())));
        assert_eq!(usage.code, 2);
        assert!(usage.stderr.contains("unknown option \"--bogus\"") && usage.stderr.ends_with(USAGE), "{usage:?}");
        assert_eq!(decide(["overview"], Some(dir.path())), Next::Start(Some(Target::Overview)));
        let help = exit(decide(["help"], Some(dir.path())));
        assert_eq!((help.code, help.stdout.as_str()), (0, USAGE));
    }

    #[test]
    fn the_list_prints_every_account_and_in_streamer_mode_only_aliases() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(exit(decide(["list"], Some(dir.path()))).stdout, "No saved accounts yet.");
        let entries = [entry("main", None, &[]), entry("alt", Some("Scout"), &["raid"])];
        saved_in(dir.path(), &entries, false);
        assert_eq!(exit(decide(["list"], Some(dir.path()))), Exit::ok("main\nScout (alt)\traid".into()));
        saved_in(dir.path(), &entries, true);
        let listed = exit(decide(["list"], Some(dir.path())));
        assert_eq!(listed, Exit::ok("Account 1\nScout\traid".into()));
        // The unknown-name sentence names nobody else either.
        let nobody = exit(decide(["open", "nobody"], Some(dir.path())));
        assert!(!nobody.stderr.contains("main") && !nobody.stderr.contains("alt"), "{nobody:?}");
    }

    #[test]
    fn the_files_are_read_and_never_changed_and_unreadable_preferences_hide_usernames() {
        let dir = tempfile::tempdir().unwrap();
        saved_in(dir.path(), &[entry("main", None, &[])], false);
        std::fs::write(dir.path().join("prefs.json"), b"{ damaged").unwrap();
        let before = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(exit(decide(["list"], Some(dir.path()))).stdout, "Account 1", "taken as streamer mode");
        assert_eq!(std::fs::read(dir.path().join("prefs.json")).unwrap(), b"{ damaged", "left for Kage to keep aside");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before, "no file moved aside or added");

        std::fs::write(dir.path().join("roster.json"), b"{ damaged").unwrap();
        let damaged = exit(decide(["open", "main"], Some(dir.path())));
        assert_eq!(damaged.code, 1);
        assert!(damaged.stderr.contains("could not read its list of saved accounts"), "{damaged:?}");
        assert_eq!(std::fs::read(dir.path().join("roster.json")).unwrap(), b"{ damaged");
    }
}
