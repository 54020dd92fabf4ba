//! Moving an account to another computer: the export carries a forked session's credential, never the one in
//! use, so the two computers never share a refresh-token family (I11: rotation on one would read as reuse on
//! the other and sign one or both out); importing never replaces a credential this computer already has (I9).

use kage_core::ExposeSecret;
use kage_core::events::LiveConfig;
use kage_core::sessions::{AccountStatus, ImportOutcome};

use crate::support::{Harness, window};

#[tokio::test]
async fn i11_a_forked_credential_is_another_session_and_neither_computer_signs_the_other_out() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let kept_here = h.vault.peek(&main).expect("saved");
    let forked = h.core.fork_credential(&main).await.expect("fork");
    assert_ne!(forked.expose_secret(), kept_here, "a new session's credential, not this one's");
    assert_eq!(h.vault.peek(&main).as_deref(), Some(kept_here.as_str()), "this computer's session is untouched");

    // The other computer: its own core and keychain.
    let (there, there_vault, _dir) = h.new_core(LiveConfig::default());
    let imported = there.import_credential(&main, "main", forked).await.unwrap();
    assert_eq!(imported, ImportOutcome::Imported);
    assert_eq!(there.sessions.status(&main), AccountStatus::Loading, "restored, not signed out");
    assert!(there_vault.peek(&main).is_some());
    there.open(&w, &main);

    for _ in 0..4 {
        h.core.sessions.expire_access_token(&main);
        there.sessions.expire_access_token(&main);
        assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
        assert_eq!(there.client.profile(&w).await.unwrap().username, "main");
    }
    assert!(h.refreshes() >= 8, "both refreshed on their own: {}", h.refreshes());
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
    assert_eq!(there.sessions.status(&main), AccountStatus::SignedIn);

    // Signing out there ends only that session.
    there.sign_out(&w).await.unwrap();
    h.core.sessions.expire_access_token(&main);
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "main");
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
}

#[tokio::test]
async fn i9_importing_an_account_this_computer_already_has_keeps_the_existing_credential() {
    let h = Harness::start().await;
    let w = window("acct-1");
    let main = h.sign_in(&w, "main").await;
    let forked = h.core.fork_credential(&main).await.unwrap();
    let before = h.vault.peek(&main).unwrap();
    let writes = h.vault.writes();

    // Signed in here: the live session wins.
    assert_eq!(h.core.import_credential(&main, "main", forked.clone()).await.unwrap(), ImportOutcome::AlreadySaved);
    // Only in the keychain (a fresh start before the first request): the saved one wins too.
    let restarted = h.restart(std::time::Duration::from_secs(3));
    assert_eq!(restarted.import_credential(&main, "main", forked).await.unwrap(), ImportOutcome::AlreadySaved);
    assert_eq!(h.vault.peek(&main), Some(before), "the existing credential is kept");
    assert_eq!(h.vault.writes(), writes, "nothing written");
    h.core.client.profile(&w).await.unwrap();
}
