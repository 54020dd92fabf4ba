//! The bookkeeping of web games and their accounts (I13): what is saved, what is refused, and that a partition
//! id is fresh, opaque and never handed out twice.

use std::fs;

use super::*;

fn game(url: &str) -> Game {
    Game::web(None, url).unwrap()
}

#[test]
fn a_web_game_allows_its_start_origin_and_nothing_else_by_default() {
    let game = game("https://game.example/play?world=2");
    assert_eq!(game.kind, GameKind::Web);
    assert_eq!(game.name, "game.example", "named after the site when the player gives no name");
    assert_eq!(game.allowed_origins, vec!["https://game.example".to_owned()]);
    let url = |u: &str| tauri::Url::parse(u).unwrap();
    assert!(game.allows(&url("https://game.example/other/page")));
    assert!(!game.allows(&url("https://game.example:8443/")), "another port is another origin");
    assert!(!game.allows(&url("http://game.example/")), "another scheme is another origin");
    assert!(!game.allows(&url("https://evil.example/")));
    assert!(!game.allows(&url("tauri://localhost/index.html")), "Kage's own page never loads in a partition");
    assert!(!game.allows(&url("file:///etc/passwd")));
    assert_eq!(game.start().map(|u| u.to_string()).as_deref(), Some("https://game.example/play?world=2"));
}

#[test]
fn a_web_game_is_https_or_plain_http_on_this_computer_only() {
    assert!(Game::web(None, "http://127.0.0.1:8080/play").is_ok());
    assert!(Game::web(None, "http://localhost:3000").is_ok());
    assert_eq!(Game::web(None, "game.example/play").unwrap().start_url, "https://game.example/play");
    for refused in ["http://game.example/", "ftp://game.example/", "file:///tmp/x.html", "tauri://localhost/", ""] {
        assert!(matches!(Game::web(None, refused), Err(WebRosterError::Invalid(_))), "{refused:?}");
    }
    assert!(Game::web(None, "https://me:secret@game.example/").is_err(), "no credentials in a saved address");
    assert!(Game::web(Some("a\nb"), "https://game.example/").is_err(), "names are one line");
}

#[test]
fn web_games_and_accounts_are_saved_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/play");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    let alt = roster.add_web_account(&game.id, " alt ").unwrap();
    let with_sso = roster.set_game_origins(&game.id, &["https://accounts.provider.example/login".into()]).unwrap();
    assert_eq!(with_sso.allowed_origins, vec!["https://game.example", "https://accounts.provider.example"]);

    let reopened = Roster::open(dir.path());
    assert_eq!(reopened.games(), vec![with_sso]);
    assert_eq!(reopened.web_accounts(), vec![main.clone(), alt.clone()]);
    assert_eq!(alt.name, "alt");
    assert_ne!(main.colour, alt.colour, "a main and its alt look different at a glance");
    assert_eq!(reopened.list(), Vec::new(), "web accounts are not Kage-protocol accounts");
    assert!(reopened.notice().is_none());
}

#[test]
fn i13_partition_ids_are_opaque_random_and_never_the_accounts_name_or_id() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    let alt = roster.add_web_account(&game.id, "alt").unwrap();
    for account in [&main, &alt] {
        assert!(is_opaque_id(&account.partition), "{account:?}");
        assert_ne!(account.partition, account.id);
        assert!(!account.partition.contains(&account.name));
    }
    assert_ne!(main.partition, alt.partition, "two accounts never share a partition");
    assert_eq!(roster.partitions(), vec![main.partition.clone(), alt.partition.clone()]);
}

#[test]
fn i13_a_sign_out_gives_the_account_a_fresh_partition_and_the_old_one_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    let mut seen = vec![main.partition.clone()];
    for _ in 0..20 {
        let old = roster.renew_partition(&main.id).unwrap();
        assert_eq!(&old, seen.last().unwrap(), "the partition it had is handed back to be wiped");
        let now = Roster::open(dir.path()).web_account(&main.id).unwrap().partition;
        assert!(!seen.contains(&now), "a wiped partition's id comes back: {now}");
        seen.push(now);
    }
}

#[test]
fn forgetting_a_web_account_removes_it_and_its_partition_from_the_roster() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    let alt = roster.add_web_account(&game.id, "alt").unwrap();
    assert!(roster.remove_game(&game.id).is_err(), "a game with accounts stays");
    let removed = roster.remove_web_account(&alt.id).unwrap();
    assert_eq!(removed, alt);
    let reopened = Roster::open(dir.path());
    assert_eq!(reopened.web_accounts(), vec![main.clone()]);
    assert_eq!(reopened.partitions(), vec![main.partition.clone()], "alt's partition is an orphan now");
    assert!(matches!(roster.remove_web_account(&alt.id), Err(WebRosterError::NotFound)));
    roster.remove_web_account(&main.id).unwrap();
    roster.remove_game(&game.id).unwrap();
    assert_eq!(Roster::open(dir.path()).games(), Vec::new());
}

#[test]
fn web_account_names_follow_the_alias_rules_and_are_unique_within_a_game() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let (one, two) = (game("https://one.example/"), game("https://two.example/"));
    roster.add_game(one.clone()).unwrap();
    roster.add_game(two.clone()).unwrap();
    let main = roster.add_web_account(&one.id, "main").unwrap();
    assert!(roster.add_web_account(&one.id, "MAIN").is_err(), "names differ within a game");
    assert!(roster.add_web_account(&two.id, "main").is_ok(), "another game may have its own main");
    assert!(roster.add_web_account(&one.id, "   ").is_err());
    assert!(roster.add_web_account(&one.id, &"x".repeat(33)).is_err());
    assert!(roster.add_web_account(&one.id, "tab\there").is_err());
    assert!(matches!(roster.add_web_account("no-such-game", "alt"), Err(WebRosterError::NotFound)));

    let renamed = roster.rename_web_account(&main.id, "Main One", Some("Scout")).unwrap();
    assert_eq!((renamed.name.as_str(), renamed.alias.as_deref()), ("Main One", Some("Scout")));
    assert_eq!(renamed.partition, main.partition, "a rename keeps the sign-in");
    let cleared = roster.rename_web_account(&main.id, "Main One", Some(" ")).unwrap();
    assert_eq!(cleared.alias, None);
}

#[test]
fn a_roster_written_before_web_games_still_loads_and_keeps_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let old = r##"{"accounts": [{"id": "5e1c", "origin": "https://game.example", "user_id": "u1",
        "username": "main", "colour": "#e05d44"}]}"##;
    fs::write(dir.path().join(ROSTER_FILE), old).unwrap();
    let roster = Roster::open(dir.path());
    assert_eq!(roster.notice(), None);
    assert_eq!(roster.list().len(), 1);
    assert_eq!((roster.games(), roster.web_accounts()), (Vec::new(), Vec::new()));
    // Saved again without web games, the file has the old shape.
    roster.set_signed_out("5e1c", true).unwrap();
    let written = fs::read_to_string(dir.path().join(ROSTER_FILE)).unwrap();
    assert!(!written.contains("games") && !written.contains("web_accounts"), "{written}");
}

#[test]
fn export_moves_web_games_and_account_names_but_never_a_partition() {
    let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let roster = Roster::open(here.path());
    let game = game("https://game.example/play");
    roster.add_game(game.clone()).unwrap();
    roster.set_game_origins(&game.id, &["https://login.example".into()]).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    roster.rename_web_account(&main.id, "main", Some("Scout")).unwrap();
    roster.add_web_account(&game.id, "alt").unwrap();
    let (value, count) = roster.export_web();
    assert_eq!(count, 2);
    let text = value.to_string();
    for partition in roster.partitions() {
        assert!(!text.contains(&partition), "no partition id in the file: {text}");
    }

    let other = Roster::open(there.path());
    assert_eq!(other.import_web(checked_web(&value).unwrap()).unwrap(), 2);
    assert_eq!(other.import_web(checked_web(&value).unwrap()).unwrap(), 0, "a second import adds nothing");
    let games = other.games();
    assert_eq!(games.len(), 1);
    assert_eq!(games[0].allowed_origins, vec!["https://game.example", "https://login.example"]);
    let accounts = other.web_accounts();
    assert_eq!(
        accounts.iter().map(|a| (a.name.as_str(), a.alias.as_deref())).collect::<Vec<_>>(),
        vec![("main", Some("Scout")), ("alt", None)]
    );
    assert!(accounts.iter().all(|a| !roster.partitions().contains(&a.partition)), "fresh partitions there");
    let bad = serde_json::json!({"games": [{"name": "x", "start_url": "file:///etc", "allowed_origins": [], "accounts": []}]});
    assert!(checked_web(&bad).is_err(), "a bad game refuses the whole part");
    assert_eq!(Roster::open(here.path()).export_web().1, 2);
    assert_eq!(Roster::open(tempfile::tempdir().unwrap().path()).export_web(), (serde_json::Value::Null, 0));
}

#[test]
fn a_web_accounts_proxy_is_http_or_socks5_without_credentials_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    let set = roster.set_web_proxy(&main.id, Some(" socks5://127.0.0.1:1080 ")).unwrap();
    assert_eq!(set.proxy.as_deref(), Some("socks5://127.0.0.1:1080"));
    assert_eq!(Roster::open(dir.path()).web_account(&main.id).unwrap().proxy, set.proxy);
    for refused in [
        "socks5://me:secret@127.0.0.1:1080",
        "https://proxy.example:443",
        "socks5://127.0.0.1",
        "nonsense",
        "http://proxy.example:3128/path",
    ] {
        assert!(matches!(roster.set_web_proxy(&main.id, Some(refused)), Err(WebRosterError::Invalid(_))), "{refused}");
    }
    assert_eq!(roster.web_account(&main.id).unwrap().proxy, set.proxy, "a refused proxy changes nothing");
    assert_eq!(roster.set_web_proxy(&main.id, Some("  ")).unwrap().proxy, None, "blank removes it");
    assert_eq!(
        roster.set_web_proxy(&main.id, Some("http://10.0.0.1:3128")).unwrap().proxy.as_deref(),
        Some("http://10.0.0.1:3128")
    );
}

#[test]
fn i13_a_saved_sign_in_is_noted_only_for_the_games_own_origins_and_never_exported() {
    let dir = tempfile::tempdir().unwrap();
    let roster = Roster::open(dir.path());
    let game = game("https://game.example/play");
    roster.add_game(game.clone()).unwrap();
    let main = roster.add_web_account(&game.id, "main").unwrap();
    assert!(matches!(
        roster.set_web_sign_in_origin(&main.id, Some("https://evil.example")),
        Err(WebRosterError::Invalid(_))
    ));
    let noted = roster.set_web_sign_in_origin(&main.id, Some("https://game.example")).unwrap();
    assert_eq!(noted.sign_in_origin.as_deref(), Some("https://game.example"));
    assert_eq!(Roster::open(dir.path()).web_account(&main.id).unwrap().sign_in_origin, noted.sign_in_origin);
    let (exported, _) = roster.export_web();
    assert!(!exported.to_string().contains("sign_in"), "the export carries no sign-in: {exported}");
    assert_eq!(roster.set_web_sign_in_origin(&main.id, None).unwrap().sign_in_origin, None);
}
