//! Names: which server ([`ServerOrigin`]), which account on it ([`AccountKey`]), which window ([`WindowLabel`]).

use std::fmt;

use sha2::{Digest, Sha256};

/// A game server's origin, `scheme://host[:port]`, normalised. Tokens travel only over HTTPS, or plain HTTP to
/// a loopback address (the embedded sandbox): any other `http://` server is refused here, before anything is sent (I6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerOrigin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("{0:?} is not a server address (expected https://host or http://127.0.0.1:port)")]
    NotAUrl(String),
    #[error("{0:?} uses plain http to a non-loopback host; Kage sends tokens only over https")]
    InsecureRemote(String),
}

impl ServerOrigin {
    pub fn parse(url: &str) -> Result<Self, OriginError> {
        let parsed = reqwest::Url::parse(url.trim()).map_err(|_| OriginError::NotAUrl(url.to_owned()))?;
        let host = parsed.host_str().ok_or_else(|| OriginError::NotAUrl(url.to_owned()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => return Err(OriginError::InsecureRemote(url.to_owned())),
            _ => return Err(OriginError::NotAUrl(url.to_owned())),
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || !parsed.username().is_empty() {
            return Err(OriginError::NotAUrl(url.to_owned()));
        }
        Ok(Self(parsed.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `path` must start with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for ServerOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One account: a user id on a server. Its [`AccountKey::id`] is opaque and stable (a hash of both parts),
/// so it is safe as a file name and a keychain entry name and reveals neither the server nor the user; two
/// servers' users with equal ids never share a key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey {
    id: String,
    origin: ServerOrigin,
    user_id: String,
}

impl AccountKey {
    pub fn new(origin: ServerOrigin, user_id: impl Into<String>) -> Self {
        let user_id = user_id.into();
        let mut hasher = Sha256::new();
        hasher.update(origin.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(user_id.as_bytes());
        let digest = hasher.finalize();
        let id = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Self { id, origin, user_id }
    }

    /// 32 lower-case hex characters.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn origin(&self) -> &ServerOrigin {
        &self.origin
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountKey({})", self.id)
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// A window's label as the shell names it (Tauri's label, for example `acct-1`). The only identity a call
/// from a window carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowLabel(String);

impl WindowLabel {
    pub fn new(label: impl Into<String>) -> Self {
        Self(label.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WindowLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise_and_refuse_plain_http_to_remote_hosts() {
        assert_eq!(ServerOrigin::parse("HTTPS://Game.Example/").unwrap().as_str(), "https://game.example");
        assert_eq!(ServerOrigin::parse("http://127.0.0.1:8787").unwrap().as_str(), "http://127.0.0.1:8787");
        assert!(ServerOrigin::parse("http://localhost:1").is_ok());
        assert!(ServerOrigin::parse("http://[::1]:1").is_ok());
        assert_eq!(
            ServerOrigin::parse("http://game.example"),
            Err(OriginError::InsecureRemote("http://game.example".into()))
        );
        for bad in ["", "game.example", "ftp://game.example", "https://game.example/api", "https://u:p@game.example"] {
            assert!(matches!(ServerOrigin::parse(bad), Err(OriginError::NotAUrl(_))), "{bad:?}");
        }
    }

    #[test]
    fn account_key_is_stable_opaque_and_file_name_safe() {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        let a = AccountKey::new(origin.clone(), "user-1");
        assert_eq!(a, AccountKey::new(origin.clone(), "user-1"));
        assert_eq!(a.id().len(), 32);
        assert!(a.id().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(!a.id().contains("user-1"));
        assert_ne!(a.id(), AccountKey::new(origin, "user-2").id());
        let other_server = AccountKey::new(ServerOrigin::parse("https://other.example").unwrap(), "user-1");
        assert_ne!(a.id(), other_server.id());
    }
}
