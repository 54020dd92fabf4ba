//! The vault: each account's refresh credential in the OS keychain, one entry per account (I9).
//!
//! An entry is named by the configured service (`kage`) and the account's opaque [`AccountKey::id`], never by a
//! username or an email, so "not found" means that account is signed out and can never be another account's
//! entry. Each entry also carries the account's server, user id and username ([`record`]), so the list of saved
//! accounts can be rebuilt from the keychain alone if the roster file is lost (I10).
//!
//! Keychain calls can block (D-Bus round trips, unlock prompts), so [`CredentialStore`] is synchronous on
//! purpose: callers run it on `spawn_blocking` and bound how long they wait (I11).
//!
//! - [`KeychainStore`]: the OS keychain, connected lazily and reconnected after an outage, so a keychain that was
//!   not up at start is "unavailable" (retried), never "no credential".
//! - [`site`]: web games' sign-ins (a site's username and password per web account), filed apart.
//! - [`MemoryStore`]: credentials in memory, for tests and unit tests of the failure paths.

mod keychain;
mod memory;
pub mod record;
pub mod site;

use secrecy::SecretString;

use crate::account::AccountKey;
use crate::oidc::ProviderLink;

pub use keychain::KeychainStore;
pub use memory::MemoryStore;
pub use site::{SiteSignIn, SiteSignInStore};

/// What the vault keeps for one account: the refresh credential, and the username for rebuilding the roster.
pub struct SavedCredential {
    pub refresh_token: SecretString,
    /// `None` for entries written before usernames were stored.
    pub username: Option<String>,
    /// Set when the refresh token is an identity provider's (a browser sign-in), not the game server's: where
    /// and as whom to refresh it. `None`: the game server's own session.
    pub provider: Option<ProviderLink>,
}

impl SavedCredential {
    pub fn new(refresh_token: SecretString, username: Option<String>) -> Self {
        Self { refresh_token, username, provider: None }
    }

    /// The same credential, as an identity provider's refresh token.
    pub fn with_provider(mut self, provider: Option<ProviderLink>) -> Self {
        self.provider = provider;
        self
    }
}

impl std::fmt::Debug for SavedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedCredential")
            .field("username", &self.username)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// An account the vault holds a credential for, without the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAccount {
    pub account: AccountKey,
    pub username: Option<String>,
}

/// Where refresh credentials live, one per account. Implementations must key entries by [`AccountKey::id`] and
/// nothing else.
pub trait CredentialStore: Send + Sync + 'static {
    /// `Ok(None)`: no credential for this account, which means it is signed out. A store that cannot be reached
    /// must answer `Err`, never `Ok(None)`.
    fn read(&self, account: &AccountKey) -> Result<Option<SavedCredential>, VaultError>;
    /// Creates or replaces this account's credential.
    fn write(&self, account: &AccountKey, credential: &SavedCredential) -> Result<(), VaultError>;
    /// Deleting a credential that is not there is `Ok(())`.
    fn delete(&self, account: &AccountKey) -> Result<(), VaultError>;
    /// Every account with a credential here (for rebuilding the roster). Entries that cannot be attributed to an
    /// account are skipped, never guessed.
    fn list(&self) -> Result<Vec<SavedAccount>, VaultError>;
}

/// Why the keychain could not be used. No variant's text ever contains a credential (I6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// There is no keychain reachable right now (no Secret Service yet, no D-Bus session, unsupported OS).
    #[error("no system keychain: {0}")]
    Unavailable(String),
    /// The keychain is locked, or the player dismissed the unlock prompt.
    #[error("the system keychain is locked")]
    Locked,
    /// The keychain did not answer in time (an unlock prompt nobody answers, a hung daemon).
    #[error("the system keychain did not answer within {0} s")]
    TimedOut(u64),
    /// Anything else the keychain reported.
    #[error("system keychain error: {0}")]
    Backend(String),
}

impl VaultError {
    /// One sentence for the player.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => {
                "The system keychain is not available right now. Kage keeps your accounts signed in and keeps trying."
            }
            Self::Locked => "The system keychain is locked. Unlock it to restore saved accounts.",
            Self::TimedOut(_) => "The system keychain is not answering. Kage keeps trying.",
            Self::Backend(_) => {
                "The system keychain reported an error, so saved accounts could not be read or updated."
            }
        }
    }
}
