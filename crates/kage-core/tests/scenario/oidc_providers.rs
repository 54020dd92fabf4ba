//! One scenario suite for browser sign-in, run against both independently written providers (issue 20 item
//! 6): panva's `oidc-provider` (JWT access tokens) and django-oauth-toolkit (opaque access tokens, checked by
//! the game server through introspection; revocation and introspection endpoints only in its RFC 8414
//! metadata; no `iss` on error redirects; no `offline_access` scope). Each scenario is a function of the
//! provider's [`Kind`]; [`on_both!`] makes one test of it per provider, so neither provider has a copy.

use std::time::Duration;

use kage_core::ExposeSecret;
use kage_core::oidc::OidcError;
use kage_core::sessions::AccountStatus;
use kage_core::vault::CredentialStore;
use kage_oidc_support::{Kind, RefreshReuse};

use crate::oidc_support::{ALT, MAIN, OidcHarness};
use crate::support::window;

/// One `#[tokio::test]` per scenario and provider: `oidc_providers::oidc_provider::NAME` and
/// `oidc_providers::django_oauth_toolkit::NAME`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod oidc_provider {
            $(#[tokio::test]
            async fn $name() {
                super::$name(kage_oidc_support::Kind::OidcProvider).await
            })*
        }
        mod django_oauth_toolkit {
            $(#[tokio::test]
            async fn $name() {
                super::$name(kage_oidc_support::Kind::Django).await
            })*
        }
    };
}

on_both!(
    two_accounts_in_two_windows_refresh_at_the_provider_and_restart_from_the_keychain,
    a_refresh_answer_lost_after_rotation_costs_nothing_with_the_providers_reuse_tolerance,
    without_reuse_tolerance_a_lost_refresh_answer_asks_only_that_account_to_sign_in_again,
    sign_out_revokes_the_grant_in_the_providers_own_records_and_ends_the_session_on_the_game_server,
    a_sign_in_cancelled_at_the_provider_is_told_as_cancelled,
    a_grant_for_the_wrong_account_is_refused_and_revoked_at_the_provider,
);

/// Access tokens of 11 s: Kage renews 10 s early, so after a second every token is due.
const SHORT: u64 = 11;

async fn two_accounts_in_two_windows_refresh_at_the_provider_and_restart_from_the_keychain(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, SHORT, RefreshReuse::Strict).await else { return };
    let (w1, w2) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w1, Some(MAIN), None).await.expect("main signs in").account;
    let alt =
        h.sign_in(&w2, Some(ALT), None).await.expect("alt signs in while the browser is signed in as main").account;
    assert_ne!(main, alt);
    assert_eq!(main.user_id(), h.player_of(MAIN).await);
    assert_eq!(alt.user_id(), h.player_of(ALT).await);
    let saved = h.vault.read(&alt).unwrap().unwrap().provider.expect("the record names its provider");
    assert_eq!((saved.issuer.as_str(), saved.subject), (h.provider.issuer(), h.provider.subject(ALT).await));
    let before = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();

    tokio::time::sleep(Duration::from_millis(1200)).await;
    for _ in 0..2 {
        let (one, two) = tokio::join!(h.core.client.profile(&w1), h.core.client.profile(&w2));
        assert_eq!((one.unwrap().username, two.unwrap().username), ("main".into(), "alt".into()));
    }
    let after = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    assert_ne!(after, before, "refreshed at the provider, which rotated; the keychain has the successor");
    if kind == Kind::Django {
        assert!(h.server_introspections() > 0, "the game server asked the provider about the opaque tokens");
    }

    // A restart restores both accounts from the keychain and refreshes at the provider.
    let restarted = {
        let mut config = kage_core::CoreConfig::new(tempfile::tempdir().unwrap().keep());
        config.request_timeout = Duration::from_secs(5);
        kage_core::Core::new(config, h.vault.clone() as std::sync::Arc<dyn CredentialStore>)
    };
    restarted.open(&w1, &main);
    restarted.open(&w2, &alt);
    assert_eq!(restarted.client.profile(&w1).await.unwrap().username, "main");
    assert_eq!(restarted.client.profile(&w2).await.unwrap().username, "alt");
}

async fn a_refresh_answer_lost_after_rotation_costs_nothing_with_the_providers_reuse_tolerance(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, SHORT, RefreshReuse::Tolerant).await else { return };
    let (w1, w2) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w1, Some(MAIN), None).await.unwrap().account;
    let alt = h.sign_in(&w2, Some(ALT), None).await.unwrap().account;
    let saved = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    // The refresh reaches the provider, which acts; its answer never comes back to Kage.
    h.provider.refresh(&saved).await.expect("the provider acted");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Kage presents the spent token again: the grace period (or no rotation) answers it.
    assert_eq!(h.core.client.profile(&w1).await.unwrap().username, "main");
    assert_eq!(h.core.client.profile(&w2).await.unwrap().username, "alt");
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedIn);
    assert_eq!(h.core.sessions.status(&alt), AccountStatus::SignedIn);
}

async fn without_reuse_tolerance_a_lost_refresh_answer_asks_only_that_account_to_sign_in_again(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, SHORT, RefreshReuse::Strict).await else { return };
    let (w1, w2) = (window("acct-1"), window("acct-2"));
    let main = h.sign_in(&w1, Some(MAIN), None).await.unwrap().account;
    let alt = h.sign_in(&w2, Some(ALT), None).await.unwrap().account;
    let saved = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    let lost = h.provider.refresh(&saved).await.expect("the provider acted");
    assert_ne!(lost.refresh_token.as_deref(), Some(saved.as_str()), "the provider rotated");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The provider refuses the spent token (invalid_grant): main must sign in again. No client can prevent
    // that (see oidc.rs, `known_limit_...`); what Kage keeps is that nobody else is touched.
    let _ = h.core.client.profile(&w1).await.unwrap_err();
    assert_eq!(h.core.sessions.status(&main), AccountStatus::SignedOut);
    assert_eq!(h.core.client.profile(&w2).await.unwrap().username, "alt");
    assert_eq!(h.core.sessions.status(&alt), AccountStatus::SignedIn);
}

async fn sign_out_revokes_the_grant_in_the_providers_own_records_and_ends_the_session_on_the_game_server(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, 300, RefreshReuse::Strict).await else { return };
    let w = window("acct-1");
    let main = h.sign_in(&w, Some(MAIN), None).await.unwrap().account;
    let saved = h.vault.read(&main).unwrap().unwrap().refresh_token.expose_secret().to_owned();
    let access = h.core.sessions.token_for(&main).await.unwrap().secret.expose_secret().to_owned();
    if let Some(live) = h.provider.live_refresh_tokens(MAIN).await {
        assert_eq!(live, 1, "the provider holds main's grant");
    }
    let viewer = |token: String| {
        let url = h.origin.url("/v1/viewer");
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(viewer(access.clone()).await, 200);
    let signed_out = h.core.sign_out(&w).await.unwrap();
    assert!(!signed_out.provider_kept && signed_out.notice().is_none(), "both providers offer revocation");
    if let Some(live) = h.provider.live_refresh_tokens(MAIN).await {
        assert_eq!(live, 0, "revoked in the provider's own records");
    }
    let refused = h.provider.refresh(&saved).await.expect_err("revoked at the provider");
    assert!(refused.to_string().contains("invalid_grant"), "{refused}");
    assert_eq!(viewer(access).await, 401, "the last access token no longer opens the game's API");
}

async fn a_sign_in_cancelled_at_the_provider_is_told_as_cancelled(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, 300, RefreshReuse::Strict).await else { return };
    let w = window("acct-1");
    h.browser.decline_consent(true);
    let sign_in = h.core.begin_browser_sign_in(&w, &h.origin, None).await.unwrap();
    let (finished, callback) = h.run(sign_in, Some(MAIN)).await;
    assert_eq!(callback.error.as_deref(), Some("access_denied"), "the provider answered with an error");
    let error = finished.expect_err("nobody signed in");
    assert!(matches!(&error, OidcError::Denied { error, .. } if error == "access_denied"), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("cancelled") && !text.contains("another identity provider"), "{text}");
    assert!(h.core.windows.pin_of(&w).is_none());
}

async fn a_grant_for_the_wrong_account_is_refused_and_revoked_at_the_provider(kind: Kind) {
    let Some(h) = OidcHarness::start_kind(kind, 300, RefreshReuse::Strict).await else { return };
    let w = window("acct-2");
    let alt = h.sign_in(&w, Some(ALT), None).await.unwrap().account;
    let sign_in = h.core.begin_browser_sign_in(&w, &h.origin, Some(&alt)).await.unwrap();
    let (finished, _) = h.run(sign_in, Some(MAIN)).await;
    assert!(matches!(finished, Err(OidcError::OtherAccount { .. })), "{finished:?}");
    assert_eq!(h.core.windows.pin_of(&w).unwrap().account, alt);
    if let Some(live) = h.provider.live_refresh_tokens(MAIN).await {
        assert_eq!(live, 0, "the grant Kage refused is not left alive at the provider");
    }
    assert_eq!(h.core.client.profile(&w).await.unwrap().username, "alt");
}

/// django-oauth-toolkit refuses scopes it does not know: with Kage's former fixed scopes (`offline_access`)
/// the sign-in cannot even start there. Announced scopes fix that (issue 20 item 4); the refusal itself reads
/// as a sentence about scopes.
#[tokio::test]
async fn a_provider_refusing_the_announced_scopes_is_told_in_a_sentence_and_the_right_scopes_work() {
    let Some(h) = OidcHarness::start_kind_configured(Kind::Django, 300, RefreshReuse::Strict, |oidc| {
        oidc.scopes = kage_server::oidc::CLIENT_SCOPES.into();
    })
    .await
    else {
        return;
    };
    let sign_in = h.core.begin_browser_sign_in(&window("acct-1"), &h.origin, None).await.unwrap();
    let (finished, callback) = h.run(sign_in, Some(MAIN)).await;
    assert_eq!(callback.error.as_deref(), Some("invalid_scope"));
    let error = finished.expect_err("refused");
    assert!(error.to_string().contains("scopes"), "{error}");
    // The same provider with the scopes it knows (the suite above runs so throughout).
    let Some(h) = OidcHarness::start_kind(Kind::Django, 300, RefreshReuse::Strict).await else { return };
    h.sign_in(&window("acct-1"), Some(MAIN), None).await.expect("signs in with `openid profile`");
}
