//! What sessions tell their callers: an account's status as its windows show it, and why a call failed.

use std::time::Duration;

use serde::Serialize;

use crate::account::AccountKey;
use crate::authority::AuthError;
use crate::proxy::ProxyError;
use crate::vault::VaultError;

/// An account's state as its windows show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// A token is being obtained (start-up, restore from the keychain, first refresh). Show loading.
    Loading,
    SignedIn,
    /// The server could not be reached; show the cached profile and say it is offline.
    Offline,
    /// The keychain is locked, missing or not answering, so the saved credential cannot be read yet.
    KeychainLocked,
    /// The server rejected the refresh credential, or the player signed out.
    SignedOut,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this account is signed out")]
    SignedOut,
    #[error("the server cannot be reached: {0}")]
    Offline(String),
    #[error("{0}")]
    Keychain(String),
    #[error("the server issued a token that does not belong to this account")]
    WrongSubject,
    #[error("the account was signed out or signed in again meanwhile")]
    Superseded,
    /// The server asked this account to wait before refreshing again (429, or 503 with `Retry-After`). The
    /// account stays as it was (I11); no refresh is sent for it until the wait is over.
    #[error("the server asks to wait {} s before trying again", retry_after.as_secs())]
    RateLimited { retry_after: Duration },
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("that sign-in was for another account than the one being signed in again")]
    OtherAccount,
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// What [`Sessions::import`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Saved in the keychain; the account is restored and signs in with it on its first request.
    Imported,
    /// This computer already had a credential for the account: it was kept, the imported one dropped.
    AlreadySaved,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Auth(AuthError),
}

/// A successful sign-in. `remembered` says whether the keychain took the credential; if not, the session
/// works from memory while the save is retried, and the shell should say why.
#[derive(Debug)]
pub struct SignedIn {
    pub account: AccountKey,
    pub remembered: Result<bool, VaultError>,
}

/// What a refresh that failed for any reason but the server's rejection means for the account: a token for
/// someone else fails closed; anything else (network, timeout, 5xx, a malformed answer) is "offline" (I11).
pub(super) fn token_error(error: AuthError) -> TokenError {
    match error {
        AuthError::WrongSubject => TokenError::WrongSubject,
        AuthError::Throttled { retry_after_secs } => {
            TokenError::RateLimited { retry_after: Duration::from_secs(retry_after_secs) }
        }
        error => TokenError::Offline(error.to_string()),
    }
}
