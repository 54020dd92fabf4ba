use std::fs;
use std::sync::Arc;

use kage_core::{AccountKey, ServerOrigin};

use super::*;

fn entry(n: usize) -> RosterEntry {
    let origin = ServerOrigin::parse("https://game.example").unwrap();
    RosterEntry::new(&AccountKey::new(origin, format!("user-{n}")), &format!("player{n}"))
}

#[test]
fn concurrent_saves_from_many_windows_lose_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Arc::new(Roster::open(dir.path()));
    let threads: Vec<_> = (0..40)
        .map(|n| {
            let roster = roster.clone();
            std::thread::spawn(move || roster.save(entry(n)).unwrap())
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let reopened = Roster::open(dir.path());
    let mut ids: Vec<_> = reopened.list().into_iter().map(|e| e.id).collect();
    ids.sort();
    let mut expected: Vec<_> = (0..40).map(|n| entry(n).id).collect();
    expected.sort();
    assert_eq!(ids, expected, "every account saved from every thread is on disk");
    assert_eq!(reopened.notice(), None);
}

#[test]
fn a_damaged_roster_is_kept_aside_and_the_player_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = br#"{"accounts": [{"id": "5e1c", "origin": "https://game.exa"#;
    fs::write(dir.path().join(ROSTER_FILE), damaged).unwrap();

    let roster = Roster::open(dir.path());
    assert_eq!(roster.list(), Vec::new(), "starts empty");
    let notice = roster.notice().expect("a notice for the player");
    assert!(notice.starts_with("Kage could not read its list of saved accounts"), "{notice}");
    let kept: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("roster.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(notice.contains(&*kept[0].file_name().unwrap().to_string_lossy()), "{notice}");
    assert_eq!(fs::read(&kept[0]).unwrap(), damaged, "the damaged file is kept byte for byte");

    // Saving again writes a fresh roster.json and leaves the kept copy alone.
    roster.save(entry(1)).unwrap();
    assert_eq!(Roster::open(dir.path()).list(), vec![RosterEntry { colour: PALETTE[0].into(), ..entry(1) }]);
    assert_eq!(fs::read(&kept[0]).unwrap(), damaged);
}

#[test]
fn files_written_by_the_old_store_plugin_are_read_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let saved = entry(7);
    let roster = serde_json::json!({ "accounts": [saved] });
    fs::write(dir.path().join(ROSTER_FILE), serde_json::to_vec_pretty(&roster).unwrap()).unwrap();
    let layout = serde_json::json!({ "windows": { "acct-2": null, "acct-1": saved.id } });
    fs::write(dir.path().join(LAYOUT_FILE), serde_json::to_vec_pretty(&layout).unwrap()).unwrap();

    let roster = Roster::open(dir.path());
    assert_eq!((roster.list(), roster.notice()), (vec![saved.clone()], None));
    assert_eq!(roster.layout(), vec![("acct-1".into(), Some(saved.id)), ("acct-2".into(), None)]);
}

#[test]
fn layout_changes_are_saved_and_a_removed_window_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    roster.set_layout("acct-1", Some("abc")).unwrap();
    roster.set_layout("acct-2", None).unwrap();
    roster.remove_from_layout("acct-1").unwrap();
    assert_eq!(Roster::open(dir.path()).layout(), vec![("acct-2".into(), None)]);
}

#[test]
fn the_layout_comes_back_in_window_number_order() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    for label in ["acct-10", "acct-2", "web-3", "acct-1", "web-10"] {
        roster.set_layout(label, None).unwrap();
    }
    let labels: Vec<String> = Roster::open(dir.path()).layout().into_iter().map(|(label, _)| label).collect();
    assert_eq!(labels, ["acct-1", "acct-2", "acct-10", "web-3", "web-10"]);
}

#[test]
fn a_known_account_keeps_its_colour_and_new_ones_get_a_free_colour() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    roster.save(entry(1)).unwrap();
    roster.save(entry(2)).unwrap();
    roster.save(RosterEntry { username: "renamed".into(), colour: "#000000".into(), ..entry(1) }).unwrap();
    let list = roster.list();
    assert_eq!((list[0].username.as_str(), list[0].colour.as_str()), ("renamed", PALETTE[0]));
    assert_eq!(list[1].colour, PALETTE[1]);
    roster.remove(&entry(1).id).unwrap();
    assert_eq!(Roster::open(dir.path()).list().len(), 1);
}

#[test]
fn each_window_keeps_its_own_place_and_an_accounts_next_window_opens_at_its_last() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let (left, right) =
        (Place { x: 0, y: 0, width: 460, height: 720 }, Place { x: 470, y: 0, width: 460, height: 720 });
    roster.set_layout("acct-1", Some("main")).unwrap();
    roster.set_layout("acct-2", Some("main")).unwrap();
    roster.note_place("acct-1", "main", left);
    roster.note_place("acct-2", "main", right);
    roster.flush().unwrap();

    let reopened = Roster::open(dir.path());
    assert_eq!(reopened.window_place("acct-1"), Some(left), "two windows of one account keep two places");
    assert_eq!(reopened.window_place("acct-2"), Some(right));
    assert_eq!(reopened.place("main"), Some(right), "a new window of main opens where main's was last");
    reopened.remove_from_layout("acct-2").unwrap();
    assert_eq!(reopened.window_place("acct-2"), None, "a closed window's place goes with it");
}

#[test]
fn reordering_saves_the_new_order_and_keeps_accounts_left_out_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    for n in 0..4 {
        roster.save(entry(n)).unwrap();
    }
    let id = |n: usize| entry(n).id;
    roster.reorder(&[id(2), id(0), "not-saved".into()]).unwrap();
    let order: Vec<String> = Roster::open(dir.path()).list().into_iter().map(|e| e.id).collect();
    assert_eq!(order, [id(2), id(0), id(1), id(3)]);
}
