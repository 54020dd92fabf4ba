//! Hibernation (issue 22, item 2), with real windows: with a two-second delay, alt's minimised window gives up
//! its web process (gone from the process tree under Kage's pid); a transfer main sends it while it sleeps
//! still reaches alt's account in the core (its cache); `kage open alt` brings the window back, painted from
//! that cache: the new balance at its first paint, and never "signed out" meanwhile (I11).
//!
//! There is no window manager under Xvfb: the window is minimised by unmapping it behind GTK's back, which GDK
//! takes for a minimise (see `x11::minimise`); Kage sees `is_minimized()` as on a desktop.

use std::time::{Duration, Instant};

use kage_e2e::{
    App, GameServer, clear_keychain_entries, debug_binary, digits, enabled, free_port, report, run_kage,
    sign_in_each, until, web_processes, x11,
};
use serde_json::json;

const DRIVER_PORT: u16 = 4670;
const ALT_TITLE: &str = "alt · Kage";

fn line(text: &str) {
    report("hibernation", text);
}

#[tokio::test]
async fn a_minimised_window_hibernates_keeps_its_account_current_and_comes_back_painted_from_cache() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "kage-server-hibernation", true);
    let url = server.url();
    let env = [("KAGE_SERVER_URL", url.as_str())];
    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &env).await;
    let ids = sign_in_each(&app, &[("main", "main-password"), ("alt", "alt-password")]).await;
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["hibernateAfterSecs"] = json!(2);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["hibernateAfterSecs"], json!(2), "set_prefs: {applied}");
    let pid = app.pid().expect("the app runs");
    let awake = until(Duration::from_secs(10), || (web_processes(pid) == 2).then_some(())).await;
    assert!(awake.is_some(), "one web process per window: {} under {pid}", web_processes(pid));
    let handles = app.windows().await;
    let alt = handles.get("acct-2").expect("alt's window").clone();
    app.focus("acct-2").await;
    let before = digits(&app.wait_text("profile-ryo", |t| digits(t).is_some()).await).unwrap();
    app.focus("acct-1").await;

    // alt's window minimised: after the delay its web process ends; main's stays.
    let shown = until(Duration::from_secs(10), || x11::visible_titles().iter().any(|t| t == ALT_TITLE).then_some(())).await;
    assert!(shown.is_some(), "alt's window is not on the display: {:?}", x11::visible_titles());
    assert!(x11::minimise(ALT_TITLE), "minimise alt's window");
    let minimised_at = Instant::now();
    let gone = until(Duration::from_secs(15), || (web_processes(pid) == 1).then_some(())).await;
    assert!(gone.is_some(), "alt's web process still runs: {} web processes under {pid}", web_processes(pid));
    line(&format!("hibernated {} ms after being minimised (delay 2 000 ms)", minimised_at.elapsed().as_millis()));

    // main sends alt 25 ryo while alt sleeps: main's balance drops, and alt's page is not woken by the event.
    // (Still in main's window: `App::focus` would run a script in every window, the sleeping one too.)
    app.fill("send-to", "alt").await;
    app.fill("send-amount", "25").await;
    app.click("send-button").await;
    app.click("send-confirm").await;
    app.wait_text("profile-ryo", |t| digits(t) == Some(975)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(web_processes(pid), 1, "the transfer woke alt's web process");

    // `kage open alt` from a shell: the window comes back, its first painted balance is the new one.
    let asked = Instant::now();
    let opened = run_kage(home.path(), &["open", "alt"], Duration::from_secs(20));
    assert!(opened.status.success(), "kage open alt: {opened:?}");
    app.client.switch_to_window(alt).await.unwrap();
    // Read as soon as the page answers, and every 20 ms after: no "signed out", and the first balance shown
    // is already alt's new one, from the cache the core kept current.
    const LOOK: &str = "const q = id => document.querySelector(`[data-testid='${id}']`); \
        const ryo = q('profile-ryo'); \
        const app = document.getElementById('app'); \
        const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint'); \
        return [ryo ? ryo.textContent : null, !!q('view-signin'), app ? app.dataset.status || null : null, \
                fcp ? performance.timeOrigin + fcp.startTime : null, fcp ? fcp.startTime : null];";
    let asked_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1e3;
    let (painted, fcp) = loop {
        assert!(asked.elapsed() < Duration::from_secs(20), "alt's window did not paint its balance again");
        let look = app.client.execute(LOOK, vec![]).await.unwrap_or(serde_json::Value::Null);
        assert_ne!(look[1], json!(true), "alt's woken window showed the sign-in screen");
        assert_ne!(look[2], json!("signed_out"), "alt's woken window said signed out");
        if let Some(ryo) = look[0].as_str().and_then(digits) {
            break (ryo, (look[3].as_f64(), look[4].as_f64()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let woke_in = asked.elapsed();
    assert_eq!(painted, before + 25, "alt's first painted balance after waking");
    assert_eq!(web_processes(pid), 2, "alt's window has a web process again");
    assert_ne!(app.status().await.as_deref(), Some("signed_out"));
    line(&format!(
        "`kage open alt` to alt's balance read back: {} ms (a second `kage` process and its hand-over included); \
         first contentful paint {} ms after the command, {} ms after the reloaded page's navigation started",
        woke_in.as_millis(),
        fcp.0.map_or("?".to_owned(), |at| format!("{:.0}", at - asked_ms)),
        fcp.1.map_or("?".to_owned(), |at| format!("{at:.0}")),
    ));

    app.quit().await;
    drop(server);
    clear_keychain_entries(ids.iter().map(String::as_str));
}
