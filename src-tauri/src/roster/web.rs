//! Games as data, and the accounts of web games (I13).
//!
//! A game is `{id, name, kind, start_url, allowed_origins}`. `kind: kage` is a server that speaks Kage's
//! protocol, shown through Kage's own page (the saved accounts of [`super::RosterEntry`]); `kind: web` is a site
//! shown as it is, in one web partition per account. Kage cannot know a site's username, so the player names
//! each web account; that name is treated like an alias (same length and one-line rules, hidden in streamer
//! mode).
//!
//! Each web account carries `partition`: the opaque random id of its web data store's directory (see
//! `crate::web::partition`). It is never derived from the account's name or id, and a sign-out gives the
//! account a fresh one, so a path is never used for two sign-ins. Because the id is in the roster (written
//! atomically before any wipe), a crash between the roster write and the wipe leaves only a directory that no
//! account names, and such orphans are deleted at the next start.

use serde::{Deserialize, Serialize};
use tauri::Url;

use super::entry::{MAX_NAME, PALETTE};
use super::{Roster, RosterError};

/// What kind of game: Kage's protocol through Kage's page, or a site in a web partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum GameKind {
    Kage,
    Web,
}

/// A game the player added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    pub id: String,
    pub name: String,
    pub kind: GameKind,
    /// Where a new window of this game opens.
    pub start_url: String,
    /// The origins (`scheme://host[:port]`) the game's windows may show; anything else opens in the system
    /// browser. The start URL's origin is always the first.
    pub allowed_origins: Vec<String>,
}

/// An account of a web game: what the player calls it, and which web partition is its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebAccount {
    /// Opaque, random: never shown, never the partition's name.
    pub id: String,
    /// The [`Game::id`] this account plays.
    pub game: String,
    /// The player's name for the account (the site's username, for all Kage knows).
    pub name: String,
    /// The opaque id naming this account's partition directory; replaced on every sign-out.
    pub partition: String,
    pub colour: String,
    /// What the player calls this account in streamer mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// An HTTP or SOCKS5 proxy (`http://host:port`, `socks5://host:port`) every window of this account goes
    /// through (WebKit sets it on the partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The origin of the site sign-in the player saved for this account, if any: the username and password are
    /// in the OS keychain (see `crate::web::sign_in`), only this note of where it may be filled is here. Not
    /// exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in_origin: Option<String>,
    /// Whether the notifications the game's page raises are shown (by Kage, naming the account); on unless the
    /// player turned them off, like a Kage account's.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// The launch groups this account is in, with Kage accounts' ("Open group" opens them together).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A web account's proxy as the player typed it: `http://` or `socks5://`, a host and a port, no credentials
/// (the webview's proxy setting keeps host and port only: a password would be dropped, and the account would
/// reach the proxy without it; Kage refuses rather than let that look like it works).
pub fn web_proxy(text: &str) -> Result<Url, WebRosterError> {
    let invalid = |why: &str| WebRosterError::Invalid(why.to_owned());
    let url = Url::parse(text.trim()).map_err(|_| invalid("A proxy is written like socks5://127.0.0.1:1080."))?;
    if !matches!(url.scheme(), "http" | "socks5") {
        return Err(invalid("A web game's proxy is http:// or socks5://."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("Kage cannot give a web game's proxy a username or password yet; use one without."));
    }
    if url.host_str().is_none() || url.port().is_none() {
        return Err(invalid("A proxy needs a host and a port, like socks5://127.0.0.1:1080."));
    }
    if url.path() != "/" && !url.path().is_empty() || url.query().is_some() {
        return Err(invalid("A proxy is only a scheme, a host and a port."));
    }
    Ok(url)
}

/// Why a change to the web games was refused or not saved.
#[derive(Debug, thiserror::Error)]
pub enum WebRosterError {
    /// What the player typed is not acceptable; the sentence says why.
    #[error("{0}")]
    Invalid(String),
    #[error("That game or account is not saved here.")]
    NotFound,
    #[error("Kage could not update its list of saved accounts: {0}.")]
    NotSaved(#[from] RosterError),
}

/// 128 random bits as 32 hex digits: the form of every game, account and partition id.
pub fn opaque_id() -> String {
    rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` has the form [`opaque_id`] gives (the partition sweep deletes nothing else).
pub fn is_opaque_id(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A name the player typed for a game or an account: trimmed, one line, at most [`MAX_NAME`] characters.
pub(super) fn checked_name(name: &str, what: &str) -> Result<String, WebRosterError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(WebRosterError::Invalid(format!("Give the {what} a name.")));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(WebRosterError::Invalid(format!("A {what} name is at most {MAX_NAME} characters, on one line.")));
    }
    Ok(name.to_owned())
}

/// The origin of a web address a game may use: `https`, or `http` on this computer only (a site on plain http
/// elsewhere would hand its sign-in cookie to anyone on the network path).
pub fn web_origin(url: &Url) -> Result<String, WebRosterError> {
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url.origin().ascii_serialization()),
        "http" if loopback => Ok(url.origin().ascii_serialization()),
        "http" => Err(WebRosterError::Invalid(
            "Kage opens web games over https only (plain http only on this computer).".to_owned(),
        )),
        _ => Err(WebRosterError::Invalid("A web game's address starts with https://.".to_owned())),
    }
}

fn parse_web_url(text: &str) -> Result<Url, WebRosterError> {
    let text = text.trim();
    let url = Url::parse(text).or_else(|_| Url::parse(&format!("https://{text}"))).map_err(|_| {
        WebRosterError::Invalid("That is not a web address Kage can open (like https://game.example/play).".into())
    })?;
    web_origin(&url)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebRosterError::Invalid("A game's address cannot carry a username or password.".to_owned()));
    }
    Ok(url)
}

impl Game {
    /// A new web game opening at `start_url`; its name defaults to the site's host.
    pub fn web(name: Option<&str>, start_url: &str) -> Result<Self, WebRosterError> {
        let url = parse_web_url(start_url)?;
        let origin = web_origin(&url)?;
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => checked_name(name, "game")?,
            None => url.host_str().unwrap_or("Web game").chars().take(MAX_NAME).collect(),
        };
        Ok(Self {
            id: opaque_id(),
            name,
            kind: GameKind::Web,
            start_url: url.to_string(),
            allowed_origins: vec![origin],
        })
    }

    /// Whether a window of this game may show `url`: http(s) of one of its allowed origins. Nothing else: not
    /// Kage's own page (`tauri://`), not a file, not another site.
    pub fn allows(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self.allowed_origins.iter().any(|origin| *origin == url.origin().ascii_serialization())
    }

    /// The start URL, parsed (checked when the game was added).
    pub fn start(&self) -> Option<Url> {
        Url::parse(&self.start_url).ok().filter(|url| self.allows(url))
    }

    /// Sets the allowed origins from what the player typed: the start URL's origin first, always, then each
    /// other one once.
    pub(super) fn with_origins(&self, typed: &[String]) -> Result<Vec<String>, WebRosterError> {
        let mut origins = vec![self.allowed_origins.first().cloned().unwrap_or_default()];
        for text in typed.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let origin = web_origin(&parse_web_url(text)?)?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        if origins.len() > MAX_ORIGINS {
            return Err(WebRosterError::Invalid(format!("A game can allow at most {MAX_ORIGINS} origins.")));
        }
        Ok(origins)
    }
}

const MAX_ORIGINS: usize = 16;

impl Roster {
    /// Every game the player added, in the order added.
    pub fn games(&self) -> Vec<Game> {
        self.files().roster.doc.games.clone()
    }

    pub fn game(&self, id: &str) -> Option<Game> {
        self.files().roster.doc.games.iter().find(|g| g.id == id).cloned()
    }

    pub fn add_game(&self, game: Game) -> Result<(), WebRosterError> {
        Ok(self.files().roster.change(|doc| doc.games.push(game))?)
    }

    /// Replaces a game's extra allowed origins (the start URL's origin stays first).
    pub fn set_game_origins(&self, id: &str, typed: &[String]) -> Result<Game, WebRosterError> {
        let game = self.game(id).ok_or(WebRosterError::NotFound)?;
        let origins = game.with_origins(typed)?;
        let mut files = self.files();
        files.roster.change(|doc| {
            if let Some(game) = doc.games.iter_mut().find(|g| g.id == id) {
                game.allowed_origins = origins;
            }
        })?;
        files.roster.doc.games.iter().find(|g| g.id == id).cloned().ok_or(WebRosterError::NotFound)
    }

    /// Removes a game that has no accounts left (its accounts are forgotten first, each with its partition).
    pub fn remove_game(&self, id: &str) -> Result<(), WebRosterError> {
        let mut files = self.files();
        if files.roster.doc.web_accounts.iter().any(|a| a.game == id) {
            return Err(WebRosterError::Invalid("Forget this game's accounts first.".to_owned()));
        }
        Ok(files.roster.change(|doc| doc.games.retain(|g| g.id != id))?)
    }

    /// Every web account, in the order added.
    pub fn web_accounts(&self) -> Vec<WebAccount> {
        self.files().roster.doc.web_accounts.clone()
    }

    pub fn web_account(&self, id: &str) -> Option<WebAccount> {
        self.files().roster.doc.web_accounts.iter().find(|a| a.id == id).cloned()
    }

    /// Every partition id a saved web account names: the directories that must survive the start-up sweep.
    pub fn partitions(&self) -> Vec<String> {
        self.files().roster.doc.web_accounts.iter().map(|a| a.partition.clone()).collect()
    }

    /// Adds an account named `name` to the web game `game`, with a fresh partition and a colour no saved account
    /// has yet.
    pub fn add_web_account(&self, game: &str, name: &str) -> Result<WebAccount, WebRosterError> {
        let name = checked_name(name, "account")?;
        let mut files = self.files();
        let doc = &files.roster.doc;
        if !doc.games.iter().any(|g| g.id == game && g.kind == GameKind::Web) {
            return Err(WebRosterError::NotFound);
        }
        if doc.web_accounts.iter().any(|a| a.game == game && a.name.eq_ignore_ascii_case(&name)) {
            return Err(WebRosterError::Invalid(format!("This game already has an account named {name}.")));
        }
        let taken: Vec<&str> = doc
            .accounts
            .iter()
            .map(|e| e.colour.as_str())
            .chain(doc.web_accounts.iter().map(|a| a.colour.as_str()))
            .collect();
        let colour = PALETTE.iter().find(|c| !taken.contains(c)).unwrap_or(&PALETTE[taken.len() % PALETTE.len()]);
        let account = WebAccount {
            id: opaque_id(),
            game: game.to_owned(),
            name,
            partition: opaque_id(),
            colour: (*colour).to_owned(),
            alias: None,
            proxy: None,
            sign_in_origin: None,
            notifications: true,
            groups: Vec::new(),
        };
        let added = account.clone();
        files.roster.change(|doc| doc.web_accounts.push(added))?;
        Ok(account)
    }

    /// Renames a web account (and sets its streamer-mode alias: `None` or blank removes it).
    pub fn rename_web_account(&self, id: &str, name: &str, alias: Option<&str>) -> Result<WebAccount, WebRosterError> {
        let name = checked_name(name, "account")?;
        let alias = alias.map(str::trim).filter(|a| !a.is_empty()).map(|a| checked_name(a, "alias")).transpose()?;
        let mut files = self.files();
        let account =
            files.roster.doc.web_accounts.iter().find(|a| a.id == id).cloned().ok_or(WebRosterError::NotFound)?;
        let clash = files
            .roster
            .doc
            .web_accounts
            .iter()
            .any(|a| a.id != id && a.game == account.game && a.name.eq_ignore_ascii_case(&name));
        if clash {
            return Err(WebRosterError::Invalid(format!("This game already has an account named {name}.")));
        }
        let renamed = WebAccount { name, alias, ..account };
        let saved = renamed.clone();
        files.roster.change(|doc| {
            if let Some(account) = doc.web_accounts.iter_mut().find(|a| a.id == id) {
                *account = saved;
            }
        })?;
        Ok(renamed)
    }

    /// Sets (or, with `None` or blank, removes) a web account's proxy, checked by [`web_proxy`].
    pub fn set_web_proxy(&self, id: &str, proxy: Option<&str>) -> Result<WebAccount, WebRosterError> {
        let proxy = proxy.map(str::trim).filter(|p| !p.is_empty()).map(web_proxy).transpose()?;
        let proxy = proxy.map(|url| url.as_str().trim_end_matches('/').to_owned());
        let mut files = self.files();
        if !files.roster.doc.web_accounts.iter().any(|a| a.id == id) {
            return Err(WebRosterError::NotFound);
        }
        files.roster.change(|doc| {
            if let Some(account) = doc.web_accounts.iter_mut().find(|a| a.id == id) {
                account.proxy = proxy;
            }
        })?;
        files.roster.doc.web_accounts.iter().find(|a| a.id == id).cloned().ok_or(WebRosterError::NotFound)
    }

    /// Notes that a sign-in for `origin` is saved in the keychain for web account `id` (`None`: none is). The
    /// origin must be one the account's game allows.
    pub fn set_web_sign_in_origin(&self, id: &str, origin: Option<&str>) -> Result<WebAccount, WebRosterError> {
        let account = self.web_account(id).ok_or(WebRosterError::NotFound)?;
        if let Some(origin) = origin {
            let game = self.game(&account.game).ok_or(WebRosterError::NotFound)?;
            if !game.allowed_origins.iter().any(|allowed| allowed == origin) {
                return Err(WebRosterError::Invalid("Choose one of the game's own origins for its sign-in.".into()));
            }
        }
        let mut files = self.files();
        files.roster.change(|doc| {
            if let Some(account) = doc.web_accounts.iter_mut().find(|a| a.id == id) {
                account.sign_in_origin = origin.map(str::to_owned);
            }
        })?;
        files.roster.doc.web_accounts.iter().find(|a| a.id == id).cloned().ok_or(WebRosterError::NotFound)
    }

    /// Gives a web account a fresh, empty partition (a sign-out): returns the partition it had, for the caller
    /// to wipe once this is on disk. The old id is never handed out again.
    pub fn renew_partition(&self, id: &str) -> Result<String, WebRosterError> {
        let mut files = self.files();
        let old = files.roster.doc.web_accounts.iter().find(|a| a.id == id).map(|a| a.partition.clone());
        let old = old.ok_or(WebRosterError::NotFound)?;
        let fresh = opaque_id();
        files.roster.change(|doc| {
            if let Some(account) = doc.web_accounts.iter_mut().find(|a| a.id == id) {
                account.partition = fresh;
            }
        })?;
        Ok(old)
    }

    /// Removes a web account (Forget): returns it, for the caller to wipe its partition once this is on disk.
    pub fn remove_web_account(&self, id: &str) -> Result<WebAccount, WebRosterError> {
        let account = self.web_account(id).ok_or(WebRosterError::NotFound)?;
        self.files().roster.change(|doc| doc.web_accounts.retain(|a| a.id != id))?;
        Ok(account)
    }
}
