//! The accounts panel's view of an account's sessions on its server (issue 17, item 3): this computer, the
//! sessions exported from it, and the others; ending one ends its exports, ending all but this one leaves this
//! computer signed in. Every call with the account's own token (I1).

use kage_core::events::LiveConfig;
use kage_core::server_sessions::{SessionRelation, SessionsError};
use kage_core::sessions::{AccountStatus, TokenError};
use kage_core::{ExposeSecret, SecretString};

use crate::support::{Harness, window};

#[tokio::test]
async fn the_panel_tells_this_computer_its_exports_and_others_apart_and_ends_them() {
    let h = Harness::start().await;
    let (w_main, w_alt) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w_main, "main").await;
    let alt = h.sign_in(&w_alt, "alt").await;
    let exported = h.core.fork_credential(&main).await.expect("export");
    // Another computer signed in with the password.
    let (elsewhere, _vault, _dir) = h.new_core(LiveConfig::default());
    let password = SecretString::from("main-password".to_owned());
    elsewhere.sign_in(&window("acct-1"), &h.origin, "main", &password, true).await.unwrap();

    let sessions = h.core.sessions_of(&main).await.unwrap();
    let count = |relation| sessions.iter().filter(|s| s.relation == relation).count();
    assert_eq!(
        (count(SessionRelation::Current), count(SessionRelation::Fork), count(SessionRelation::Other)),
        (1, 1, 1),
        "{sessions:?}"
    );
    h.assert_own_tokens(|w| Some(if w == "acct-1" { main.user_id().to_owned() } else { alt.user_id().to_owned() }));
    let records = h.records();
    let listed = records.iter().find(|r| r.method == "GET" && r.path == "/v1/sessions").expect("listed on the server");
    assert!(
        matches!(&listed.authorization, kage_server::observe::Presented::Bearer { subject: Some(s), .. } if s == main.user_id()),
        "main's sessions asked with main's token: {:?}",
        listed.authorization
    );

    // Ending the export: its credential is refused from then on; this computer is untouched.
    let export = sessions.iter().find(|s| s.relation == SessionRelation::Fork).unwrap();
    h.core.end_session(&main, &export.id).await.unwrap();
    assert_eq!(refresh_status(&h, &exported).await, 401, "the export's credential is refused");
    assert_eq!(h.core.end_session(&main, &export.id).await, Err(SessionsError::NotFound), "already ended");
    assert_eq!(h.core.end_session(&main, "../viewer").await, Err(SessionsError::NotFound), "never a path");

    // Ending all others: the other computer is signed out at its next refresh, this one stays signed in.
    assert_eq!(h.core.end_other_sessions(&main).await.unwrap(), 1);
    elsewhere.sessions.expire_access_token(&main);
    assert_eq!(elsewhere.sessions.token_for(&main).await.unwrap_err(), TokenError::SignedOut);
    h.core.sessions.expire_access_token(&main);
    assert_eq!(h.core.client.profile(&w_main).await.unwrap().username, "main");
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
    assert_eq!(h.core.sessions_of(&main).await.unwrap().len(), 1);
    // alt's sessions are alt's own business.
    assert_eq!(h.core.sessions_of(&alt).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_signed_out_account_lists_nothing_and_sends_nothing() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    h.core.sign_out(&w).await.unwrap();
    h.clear_records();
    assert_eq!(h.core.sessions_of(&main).await, Err(SessionsError::Token(TokenError::SignedOut)));
    assert!(
        h.records().iter().all(|r| r.path != "/v1/sessions"),
        "nothing sent for a signed-out account: {:?}",
        h.records()
    );
}

async fn refresh_status(h: &Harness, refresh_token: &SecretString) -> u16 {
    let response = reqwest::Client::new()
        .post(h.server_url("/v1/sessions/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh_token.expose_secret()}))
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}
