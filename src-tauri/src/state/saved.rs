//! The saved accounts as this run may use them: registered with the core at start-up (with their proxies),
//! sign-outs an earlier run left to finish, a roster rebuilt from the keychain, and the one check of whether a
//! saved account's credential may go to its server on this run ([`check_saved_origin`]).

use kage_core::{AccountKey, ProxyUrl, Reach, ServerOrigin};

use super::AppState;
use crate::error::{CommandError, ErrorCode};
use crate::roster::RosterEntry;

impl AppState {
    /// Routes `account`'s requests through `proxy` (or directly for `None`), from its next request on.
    pub fn apply_proxy(&self, account: &AccountKey, proxy: Option<&str>) -> Result<(), CommandError> {
        let proxy = proxy.map(ProxyUrl::parse).transpose()?;
        Ok(self.core.set_proxy(account, proxy)?)
    }

    /// The proxy saved for the account `username` has on this server, for signing in to it again.
    pub fn saved_proxy(&self, username: &str) -> Option<ProxyUrl> {
        let entry = self.roster.list().into_iter().find(|e| {
            e.origin == self.origin.as_str() && e.username.eq_ignore_ascii_case(username) && e.proxy.is_some()
        })?;
        ProxyUrl::parse(entry.proxy.as_deref()?).ok()
    }

    /// Tells the core about every saved account it may open, as restored (loading until first used), so the
    /// accounts list never calls a saved account "signed out" just because no window has opened it yet (I11).
    pub fn restore_saved(&self) {
        for entry in self.roster.list() {
            let Ok(account) = self.saved_account(&entry) else { continue };
            // Before anything is sent for the account: its requests go only the way the player set.
            if let Err(error) = self.apply_proxy(&account, entry.proxy.as_deref()) {
                // Never direct instead: the player chose this route for the account. It sends nothing, and its
                // windows say why, until the proxy is fixed in the panel's settings.
                log::warn!("a saved account's proxy cannot be used; nothing is sent for it: {error}");
                let why = format!(
                    "{} Kage sends nothing for this account until you fix its proxy (Accounts, Settings).",
                    error.message
                );
                self.core.block_route(&account, why);
            }
            if entry.signed_out {
                self.core.sessions.mark_signed_out(&account);
            } else {
                self.core.sessions.restore(&account);
            }
        }
    }

    /// Finishes sign-outs an earlier run could not complete (keychain or server away then): deletes what the
    /// keychain still holds for those accounts and ends their sessions on the server (only on this computer for
    /// an account whose server Kage may not send its credential to now, see [`AppState::saved`]).
    pub async fn finish_sign_outs(&self) {
        for entry in self.roster.list().into_iter().filter(|entry| entry.signed_out) {
            let Ok(saved) = self.saved(&entry) else { continue };
            let finished = match saved.reach() {
                Reach::Server => self.core.sessions.sign_out(&saved.account).await.map(drop),
                Reach::ThisComputer => self.core.sessions.sign_out_here(&saved.account).await,
            };
            if let Err(error) = finished {
                log::info!("a sign-out is still not finished in the keychain: {error}");
            }
        }
    }

    /// Puts back into the roster every account the keychain holds a credential for and the roster lacks: the
    /// roster file was lost or damaged, or the app died between saving the credential and saving the roster
    /// (I10). Returns the accounts added. Each keychain entry names its server and user, so nothing is guessed.
    pub async fn rebuild_roster_from_keychain(&self) -> Result<Vec<RosterEntry>, kage_core::vault::VaultError> {
        let mut added = Vec::new();
        for saved in self.core.sessions.saved_in_keychain().await? {
            if self.roster.find(saved.account.id()).is_some() {
                continue;
            }
            let username = saved.username.as_deref().unwrap_or("Saved account");
            let entry = RosterEntry::new(&saved.account, username);
            if let Err(error) = self.roster.save(entry.clone()) {
                log::warn!("could not put a saved account back into the roster: {error}");
                continue;
            }
            if self.saved_account(&entry).is_ok() {
                self.core.sessions.restore(&saved.account);
            }
            added.push(entry);
        }
        Ok(added)
    }

    /// The account a saved roster entry names, if Kage may open it on this run: its address must be valid and,
    /// for a plain-http server, be the one Kage is using now (see [`check_saved_origin`]).
    pub fn saved_account(&self, entry: &RosterEntry) -> Result<AccountKey, CommandError> {
        let saved = self.saved(entry)?;
        match saved.refused {
            Some(refused) => Err(refused),
            None => Ok(saved.account),
        }
    }

    /// The account a saved roster entry names, and whether Kage may send its credential to its server on this
    /// run. Every path that reads or sends a saved account's credential asks here: opening it (through
    /// [`AppState::saved_account`]), signing it out and forgetting it (which, for a refused server, reach this
    /// computer only), exporting it, finishing an earlier sign-out. The one place [`check_saved_origin`] is asked.
    pub fn saved(&self, entry: &RosterEntry) -> Result<Saved, CommandError> {
        let account = entry
            .account()
            .ok_or_else(|| CommandError::invalid("That saved account's server address is not valid."))?;
        let refused = check_saved_origin(account.origin(), &self.origin, self.is_sandbox()).err();
        Ok(Saved { account, refused })
    }
}

/// A saved account as [`AppState::saved`] found it.
pub struct Saved {
    pub account: AccountKey,
    /// Why Kage will not send this account's credential to its server on this run, if it will not.
    pub refused: Option<CommandError>,
}

impl Saved {
    /// How far a sign-out of this account may reach: its server, or this computer only.
    pub fn reach(&self) -> Reach {
        if self.refused.is_none() { Reach::Server } else { Reach::ThisComputer }
    }
}

/// Whether a saved account's refresh credential may be sent to its own server on this run.
///
/// Plain http is allowed only to loopback, for the built-in sandbox, and nothing on plain http proves who is
/// listening. The sandbox keeps its port across runs, but when another program holds that port it starts on a
/// new one; its saved accounts still name the old address, so opening one would hand its refresh token to that
/// program. So a plain-http account is opened only when its origin is exactly the server Kage itself runs (or
/// was configured with) now. HTTPS servers identify themselves with a certificate and are unaffected.
pub fn check_saved_origin(saved: &ServerOrigin, current: &ServerOrigin, sandbox: bool) -> Result<(), CommandError> {
    // `ServerOrigin::parse` admits `http://` for loopback hosts only.
    if saved == current || !saved.as_str().starts_with("http://") {
        return Ok(());
    }
    let message = if sandbox {
        "This account belongs to the built-in sandbox, which had to move to another port; sign in to it again."
            .to_owned()
    } else {
        format!(
            "This account belongs to a server on this computer ({saved}) that Kage is not set to use now; Kage will \
             not send its credential there."
        )
    };
    Err(CommandError::new(ErrorCode::ServerMoved, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_account_is_opened_only_on_the_server_kage_runs_now() {
        let origin = |url: &str| ServerOrigin::parse(url).unwrap();
        let sandbox_now = origin("http://127.0.0.1:50123");

        // The sandbox kept its port: its accounts open.
        assert_eq!(check_saved_origin(&sandbox_now, &sandbox_now, true), Ok(()));
        // The sandbox moved: its old accounts would send their token to whatever holds the old port.
        for old in ["http://127.0.0.1:48787", "http://localhost:50123", "http://[::1]:48787"] {
            let refused = check_saved_origin(&origin(old), &sandbox_now, true).unwrap_err();
            assert_eq!(refused.code, "server_moved", "{old}");
            assert!(refused.message.contains("sandbox, which had to move to another port"), "{refused}");
        }
        // HTTPS servers prove who they are: unaffected, with the sandbox running or a configured server.
        assert_eq!(check_saved_origin(&origin("https://game.example"), &sandbox_now, true), Ok(()));
        let configured = origin("https://game.example");
        assert_eq!(check_saved_origin(&origin("https://other.example"), &configured, false), Ok(()));
        assert_eq!(check_saved_origin(&configured, &configured, false), Ok(()));
        // A configured loopback server (a developer's own) is used as configured; a loopback address Kage is not
        // using now is refused: nothing says who listens there.
        let local = origin("http://127.0.0.1:8787");
        assert_eq!(check_saved_origin(&local, &local, false), Ok(()));
        let refused = check_saved_origin(&origin("http://127.0.0.1:48787"), &configured, false).unwrap_err();
        assert_eq!(refused.code, "server_moved");
    }
}
