//! Web games in the export file: the games and their accounts' names, never a sign-in. A web account's sign-in
//! is the site's cookie in its partition on this computer; moving it would be moving a live session cookie in a
//! file. On the other computer each account gets a partition of its own, empty: the player signs in on the site.

use serde::{Deserialize, Serialize};

use super::Roster;
use super::web::{Game, WebRosterError};

#[derive(Debug, Default, Serialize, Deserialize)]
struct WebExport {
    games: Vec<ExportedGame>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportedGame {
    name: String,
    start_url: String,
    allowed_origins: Vec<String>,
    accounts: Vec<ExportedWebAccount>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ExportedWebAccount {
    name: String,
    #[serde(default)]
    alias: Option<String>,
    #[serde(default)]
    proxy: Option<String>,
}

impl Roster {
    /// The web games and their accounts as the export file carries them (`null` when there are none), and how
    /// many web accounts that is.
    pub fn export_web(&self) -> (serde_json::Value, usize) {
        let accounts = self.web_accounts();
        let games: Vec<ExportedGame> = self
            .games()
            .into_iter()
            .map(|game| ExportedGame {
                accounts: accounts
                    .iter()
                    .filter(|a| a.game == game.id)
                    .map(|a| ExportedWebAccount {
                        name: a.name.clone(),
                        alias: a.alias.clone(),
                        proxy: a.proxy.clone(),
                    })
                    .collect(),
                name: game.name,
                start_url: game.start_url,
                allowed_origins: game.allowed_origins,
            })
            .collect();
        if games.is_empty() {
            return (serde_json::Value::Null, 0);
        }
        let value = serde_json::to_value(WebExport { games }).unwrap_or_default();
        (value, accounts.len())
    }

    /// Adds what an export file's `web` part names and this roster lacks (checked first, [`checked_web`]): a
    /// game with the same start URL is the same game, an account of the same name in it the same account. Each
    /// new account gets a fresh, empty partition. Returns how many web accounts were added.
    pub fn import_web(&self, checked: CheckedWeb) -> Result<usize, WebRosterError> {
        let mut added = 0;
        for (fresh, accounts) in checked.0 {
            let existing = self.games().into_iter().find(|g| g.start_url == fresh.start_url);
            let game = match existing {
                Some(game) => game,
                None => {
                    self.add_game(fresh.clone())?;
                    fresh
                }
            };
            for account in accounts {
                let known = self
                    .web_accounts()
                    .into_iter()
                    .any(|a| a.game == game.id && a.name.eq_ignore_ascii_case(&account.name));
                if known {
                    continue;
                }
                let new = self.add_web_account(&game.id, &account.name)?;
                if account.alias.is_some() {
                    self.rename_web_account(&new.id, &new.name, account.alias.as_deref())?;
                }
                if account.proxy.is_some() {
                    self.set_web_proxy(&new.id, account.proxy.as_deref())?;
                }
                added += 1;
            }
        }
        Ok(added)
    }
}

/// An export file's web games, every address and name in it checked.
pub struct CheckedWeb(Vec<(Game, Vec<ExportedWebAccount>)>);

/// Reads and checks an export file's `web` part (`null`: none) without changing anything, so a file with one
/// bad entry is refused whole before its accounts are written.
pub fn checked_web(value: &serde_json::Value) -> Result<CheckedWeb, WebRosterError> {
    if value.is_null() {
        return Ok(CheckedWeb(Vec::new()));
    }
    let export: WebExport = serde_json::from_value(value.clone())
        .map_err(|_| WebRosterError::Invalid("The file's browser games are damaged.".into()))?;
    let mut checked = Vec::new();
    for game in export.games {
        let mut fresh = Game::web(Some(&game.name), &game.start_url)?;
        fresh.allowed_origins = fresh.with_origins(&game.allowed_origins)?;
        for account in &game.accounts {
            super::web::checked_name(&account.name, "account")?;
            if let Some(proxy) = &account.proxy {
                super::web::web_proxy(proxy)?;
            }
        }
        checked.push((fresh, game.accounts));
    }
    Ok(CheckedWeb(checked))
}
