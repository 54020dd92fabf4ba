//! A live outage in the real app (I11, issue 8): main and alt open in two windows on a `kage-server` of our
//! own; the server is killed with SIGKILL. Within about 5 s both windows say "Offline: the game server does not
//! answer. Showing data from ..."
//! and keep their player's profile on screen, and no window ever shows the sign-in screen. The server comes
//! back on the same port with the same data: the banners go away by themselves, and the windows show fresh data
//! again (main trains and sends alt ryo; both windows show it).
//!
//! The app's built-in sandbox runs inside the app and cannot be killed apart from it, so this test runs the
//! `kage-server` binary and points the app at it with `KAGE_SERVER_URL`.

use std::path::Path;
use std::time::{Duration, Instant};

use kage_e2e::{
    App, GameServer, artifacts_dir, clear_keychain_entries, debug_binary, digits, enabled, free_port, report, sign_in,
};

const DRIVER_PORT: u16 = 4470;
/// The bound for the banner at default settings; with a 700 ms refetch it should come much sooner.
const OFFLINE_WITHIN: Duration = Duration::from_secs(5);
const RECOVERED_WITHIN: Duration = Duration::from_secs(15);
/// The banner names the cause (issue 18.4): here the game server itself is gone, not a proxy or the network.
const OFFLINE_BANNER: &str = "Offline: the game server does not answer.";
const WINDOWS: [(&str, &str); 2] = [("acct-1", "main"), ("acct-2", "alt")];

/// The reference server in demo mode, as its own process, logging to `target/e2e/kage-server-<n>.log`.
fn start_server(data: &Path, port: u16, run: u32) -> GameServer {
    GameServer::start(data, port, &format!("kage-server-{run}"), true)
}

/// What one window shows at one poll.
#[derive(Debug)]
struct Seen {
    status: Option<String>,
    signin: bool,
    banner: Option<String>,
    username: Option<String>,
    ryo: Option<String>,
}

async fn look(app: &App, label: &str) -> Seen {
    let handle = app.windows().await.remove(label).unwrap_or_else(|| panic!("window {label} is gone"));
    app.client.switch_to_window(handle).await.unwrap();
    Seen {
        status: app.status().await,
        signin: app.visible_text("view-signin").await.is_some(),
        banner: app.visible_text("status-banner").await,
        username: app.visible_text("profile-username").await,
        ryo: app.visible_text("profile-ryo").await,
    }
}

/// Polls both windows until `done` holds for each (remembering when it first did), checking `always` at every
/// poll; returns how long after `since` each window got there.
async fn watch(
    app: &App,
    since: Instant,
    within: Duration,
    what: &str,
    done: impl Fn(&Seen) -> bool,
    always: impl Fn(&str, &Seen),
) -> Vec<Duration> {
    let mut reached: Vec<Option<Duration>> = vec![None; WINDOWS.len()];
    while reached.iter().any(Option::is_none) {
        for (i, (label, _)) in WINDOWS.iter().enumerate() {
            let seen = look(app, label).await;
            always(label, &seen);
            if reached[i].is_none() && done(&seen) {
                reached[i] = Some(since.elapsed());
            }
            assert!(since.elapsed() < within, "{label} not {what} within {within:?}: {seen:?}");
        }
    }
    reached.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn killing_the_server_shows_offline_in_every_window_and_both_heal_when_it_returns() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let _ = std::fs::remove_file(artifacts_dir().join("outage.txt"));
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_server(server_data.path(), port, 1);
    let url = server.url();

    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &[("KAGE_SERVER_URL", &url)]).await;
    app.focus("acct-1").await;
    sign_in(&app, "main", "main-password").await;
    app.click("account-menu").await;
    app.click("menu-new-window").await;
    app.focus("acct-2").await;
    sign_in(&app, "alt", "alt-password").await;
    for (label, username) in WINDOWS {
        app.focus(label).await;
        app.wait_text("profile-username", |t| t == username).await;
        app.wait_text("profile-ryo", |t| digits(t).is_some()).await;
    }

    // The outage: SIGKILL, so the server says goodbye to nobody.
    let killed_at = Instant::now();
    drop(server);
    let never_signed_out = |label: &str, seen: &Seen| {
        assert!(!seen.signin, "{label} showed the sign-in screen during the outage: {seen:?}");
        assert_ne!(seen.status.as_deref(), Some("signed_out"), "{label} said signed out: {seen:?}");
    };
    let offline_after = watch(
        &app,
        killed_at,
        OFFLINE_WITHIN,
        "offline",
        |seen| seen.banner.as_deref().is_some_and(|b| b.starts_with(OFFLINE_BANNER)),
        never_signed_out,
    )
    .await;
    // Offline for a while longer: the banner stays, the profile stays, nobody is signed out.
    let steady = Instant::now();
    while steady.elapsed() < Duration::from_secs(3) {
        for (label, username) in WINDOWS {
            let seen = look(&app, label).await;
            never_signed_out(label, &seen);
            assert_eq!(seen.status.as_deref(), Some("offline"), "{label}: {seen:?}");
            assert!(
                seen.banner
                    .as_deref()
                    .is_some_and(|b| b.starts_with(OFFLINE_BANNER) && b.contains("Showing data from")),
                "{label}: {seen:?}"
            );
            assert!(seen.banner.as_deref().is_some_and(|b| b.ends_with("Kage keeps trying.")), "{label}: {seen:?}");
            assert_eq!(seen.username.as_deref(), Some(username), "{label} keeps its player: {seen:?}");
            assert!(seen.ryo.as_deref().and_then(digits).is_some(), "{label} keeps its balance: {seen:?}");
        }
    }
    for (label, username) in WINDOWS {
        app.focus(label).await;
        app.screenshot(&format!("outage-1-offline-{label}-{username}")).await;
    }

    // The server comes back on the same port with the same data: the windows heal by themselves.
    let restarted_at = Instant::now();
    let server = start_server(server_data.path(), port, 2);
    let back_after = watch(
        &app,
        restarted_at,
        RECOVERED_WITHIN,
        "back online",
        |seen| seen.banner.is_none() && seen.status.as_deref() == Some("signed_in"),
        never_signed_out,
    )
    .await;
    report(
        "outage",
        &format!(
            "outage: offline banner seen {offline_after:?} after the kill (main, alt); back {back_after:?} after the restart"
        ),
    );

    // Fresh data: main trains (level and xp move) and sends alt 5 ryo; alt's window shows it by itself.
    app.focus("acct-1").await;
    let xp_of = "return document.querySelector(\"[data-testid='view-account'] .xp span\").textContent";
    let xp_before = app.client.execute(xp_of, vec![]).await.unwrap();
    let level_before = app.text("profile-level").await;
    app.click("train-button").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.client.execute(xp_of, vec![]).await.unwrap() == xp_before {
        assert!(Instant::now() < deadline, "training after the outage did not change main's xp ({xp_before})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let xp_after = app.client.execute(xp_of, vec![]).await.unwrap();
    let level_after = app.text("profile-level").await;
    report(
        "outage",
        &format!(
            "outage: main trained after recovery: level {level_before} -> {level_after}, xp {xp_before} -> {xp_after}"
        ),
    );
    let main_ryo = digits(&app.text("profile-ryo").await).unwrap();
    app.focus("acct-2").await;
    let alt_ryo = digits(&app.text("profile-ryo").await).unwrap();
    app.focus("acct-1").await;
    app.fill("send-to", "alt").await;
    app.fill("send-amount", "5").await;
    app.click("send-button").await;
    app.click("send-confirm").await;
    app.wait_text("profile-ryo", |t| digits(t) == Some(main_ryo - 5)).await;
    app.focus("acct-2").await;
    app.wait_text("profile-ryo", |t| digits(t) == Some(alt_ryo + 5)).await;
    // Not asserted (the event stream may still be in its back-off): whether the push reached alt as well.
    let told = app.visible_text("toast").await;
    report("outage", &format!("outage: alt's window after the transfer: balance updated, toast {told:?}"));
    for (label, username) in WINDOWS {
        let seen = look(&app, label).await;
        assert_eq!((seen.status.as_deref(), seen.banner.as_deref()), (Some("signed_in"), None), "{label}: {seen:?}");
        assert_eq!(seen.username.as_deref(), Some(username));
        app.screenshot(&format!("outage-2-recovered-{label}-{username}")).await;
    }

    let saved = app.invoke("saved_accounts", serde_json::json!({})).await;
    app.quit().await;
    drop(server);
    let ids = saved.as_array().into_iter().flatten().filter_map(|account| account["id"].as_str());
    clear_keychain_entries(ids);
}
