//! The harness itself: the tracker starts with its two users, each signs in with a cookie jar of its own and
//! sees only its own session, the sign-in helper can fail, a restart keeps remembered sign-ins, and stopping
//! (or dropping) the harness leaves no process behind.

use std::time::{Duration, Instant};

use kage_webapp_support::WebApp;

/// A client with a cookie jar of its own: one browser profile, one web partition.
fn jar() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(30)).build().unwrap()
}

async fn page(http: &reqwest::Client, url: &str) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.contains(") Z "))
}

async fn gone_within(pid: u32, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while process_exists(pid) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test]
async fn two_users_with_a_cookie_jar_each_see_their_own_name_on_their_own_page() {
    let Some(mut app) = WebApp::start_or_skip().await else { return };
    let (main, alt) = (app.user("main").clone(), app.user("alt").clone());
    let (main_jar, alt_jar) = (jar(), jar());

    // Anonymous, a user's own page shows neither the greeting nor the user.
    let anonymous = page(&main_jar, &app.page_of(&main)).await;
    assert!(!anonymous.contains(&WebApp::greeting(&main)), "signed out, no greeting");
    assert!(!anonymous.contains("main@localhost"), "signed out, main's details stay hidden");

    app.sign_in(&main_jar, &main, false).await.unwrap();
    app.sign_in(&alt_jar, &alt, false).await.unwrap();
    for _ in 0..3 {
        for (http, user, other) in [(&main_jar, &main, &alt), (&alt_jar, &alt, &main)] {
            let own = page(http, &app.page_of(user)).await;
            assert!(own.contains(&WebApp::greeting(user)), "{} is greeted on their own page", user.username);
            assert!(own.contains(&format!("{}@localhost", user.username)), "and sees their own details");
            assert!(!own.contains(&WebApp::greeting(other)), "never greeted as {}", other.username);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_jar_stays_signed_out() {
    let Some(app) = WebApp::start_or_skip().await else { return };
    let mut main = app.user("main").clone();
    main.password = "not-the-password".into();
    let http = jar();
    let error = app.sign_in(&http, &main, false).await.unwrap_err();
    assert!(error.to_string().contains("main was not signed in"), "{error}");
    assert!(!page(&http, &app.page_of(&main)).await.contains(&WebApp::greeting(&main)));
}

#[tokio::test]
async fn a_restart_of_the_site_keeps_its_users_and_remembered_sign_ins() {
    let Some(mut app) = WebApp::start_or_skip().await else { return };
    let main = app.user("main").clone();
    let http = jar();
    app.sign_in(&http, &main, true).await.unwrap();
    let (port, first_pid) = (app.origin(), app.pid().unwrap());
    app.restart().await.unwrap();
    assert_eq!(app.origin(), port, "the same origin, so the jar's cookie still applies");
    assert!(gone_within(first_pid, Duration::from_secs(5)).await, "the first server exited");
    assert!(page(&http, &app.page_of(&main)).await.contains(&WebApp::greeting(&main)), "still signed in");
}

#[tokio::test]
async fn stopping_or_dropping_the_harness_leaves_no_process() {
    let Some(mut app) = WebApp::start_or_skip().await else { return };
    let pid = app.pid().unwrap();
    assert!(process_exists(pid));
    app.stop().await;
    assert!(!process_exists(pid), "stop waits for the server to exit");

    let Some(app) = WebApp::start_or_skip().await else { return };
    let pid = app.pid().unwrap();
    drop(app);
    assert!(gone_within(pid, Duration::from_secs(5)).await, "dropped, the server is killed");
}
