//! The text one keychain entry holds: a small JSON record with the refresh credential and the facts needed to
//! rebuild the saved account it belongs to (server, user id, username).
//!
//! Why not keychain attributes: macOS and Windows stores keep few or none, and every store keeps the secret, so
//! the secret is the one place that travels the same on every OS. Entries written before this format held the
//! bare refresh token; they still read (without a username) and are rewritten as records on the next rotation.
//!
//! A browser sign-in's record also names its identity provider (`oidc`), and is written as format 2, so a
//! Kage from before browser sign-in refuses it as "newer" (a keychain problem, retried) instead of sending the
//! provider's refresh token to the game server, whose rejection would sign the account out (I11).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{SavedCredential, VaultError};
use crate::account::{AccountKey, ServerOrigin};
use crate::oidc::ProviderLink;

/// A game server session's record.
const FORMAT: u32 = 1;
/// A record whose refresh token is an identity provider's.
const FORMAT_OIDC: u32 = 2;

#[derive(Serialize)]
struct RecordOut<'a> {
    kage: u32,
    origin: &'a str,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    refresh_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    oidc: Option<&'a ProviderLink>,
}

#[derive(Deserialize)]
struct RecordIn {
    kage: u32,
    origin: String,
    user_id: String,
    #[serde(default)]
    username: Option<String>,
    refresh_token: String,
    #[serde(default)]
    oidc: Option<ProviderLink>,
}

/// What an entry decodes to. `account` is `None` for a bare token written by an older Kage.
#[derive(Debug)]
pub struct Decoded {
    pub account: Option<AccountKey>,
    pub credential: SavedCredential,
}

pub fn encode(account: &AccountKey, credential: &SavedCredential) -> SecretString {
    let record = RecordOut {
        kage: if credential.provider.is_some() { FORMAT_OIDC } else { FORMAT },
        origin: account.origin().as_str(),
        user_id: account.user_id(),
        username: credential.username.as_deref(),
        refresh_token: credential.refresh_token.expose_secret(),
        oidc: credential.provider.as_ref(),
    };
    SecretString::from(serde_json::to_string(&record).expect("a record of strings serialises"))
}

/// Never fails with the entry's text in the message (I6).
pub fn decode(text: &str) -> Result<Decoded, VaultError> {
    if !text.trim_start().starts_with('{') {
        let credential = SavedCredential::new(SecretString::from(text.to_owned()), None);
        return Ok(Decoded { account: None, credential });
    }
    let record: RecordIn = serde_json::from_str(text)
        .map_err(|_| VaultError::Backend("a keychain entry of Kage's is malformed".into()))?;
    let readable = match record.kage {
        FORMAT => record.oidc.is_none(),
        FORMAT_OIDC => record.oidc.is_some(),
        _ => false,
    };
    if !readable {
        return Err(VaultError::Backend(format!(
            "a keychain entry has format {}, which this Kage cannot read",
            record.kage
        )));
    }
    let origin = ServerOrigin::parse(&record.origin)
        .map_err(|_| VaultError::Backend("a keychain entry names a server Kage does not accept".into()))?;
    let account = AccountKey::new(origin, record.user_id);
    let credential =
        SavedCredential::new(SecretString::from(record.refresh_token), record.username).with_provider(record.oidc);
    Ok(Decoded { account: Some(account), credential })
}

/// Decodes the entry stored under `account`, refusing one that names another account (I9: never another
/// account's credential, even if an entry was copied under the wrong name).
pub fn decode_for(account: &AccountKey, text: &str) -> Result<SavedCredential, VaultError> {
    let decoded = decode(text)?;
    match decoded.account {
        Some(named) if &named != account => {
            Err(VaultError::Backend("a keychain entry is filed under another account's name; refusing it".into()))
        }
        _ => Ok(decoded.credential),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user_id: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("https://game.example").unwrap(), user_id)
    }

    #[test]
    fn a_record_round_trips_with_its_account_and_username() {
        let main = account("u-main");
        let credential = SavedCredential::new(SecretString::from("r-1".to_owned()), Some("main".into()));
        let decoded = decode(encode(&main, &credential).expose_secret()).unwrap();
        assert_eq!(decoded.account, Some(main));
        assert_eq!(decoded.credential.refresh_token.expose_secret(), "r-1");
        assert_eq!(decoded.credential.username.as_deref(), Some("main"));
    }

    #[test]
    fn a_browser_sign_in_record_round_trips_its_provider_and_older_kages_refuse_it() {
        let link = ProviderLink {
            issuer: "https://id.example".into(),
            client_id: "kage".into(),
            resource: "https://game.example".into(),
            subject: "sub-main".into(),
            login_name: Some("main".into()),
        };
        let credential = SavedCredential::new(SecretString::from("p-1".to_owned()), Some("main".into()))
            .with_provider(Some(link.clone()));
        let text = encode(&account("u-main"), &credential);
        let decoded = decode(text.expose_secret()).unwrap();
        assert_eq!(decoded.credential.provider, Some(link));
        assert_eq!(decoded.credential.refresh_token.expose_secret(), "p-1");
        let record: serde_json::Value = serde_json::from_str(text.expose_secret()).unwrap();
        assert_eq!(record["kage"], 2, "a Kage that knows only format 1 refuses it instead of misusing the token");
        let plain = encode(&account("u-main"), &SavedCredential::new(SecretString::from("r".to_owned()), None));
        assert!(!plain.expose_secret().contains("oidc") && plain.expose_secret().contains("\"kage\":1"));
        let inconsistent = text.expose_secret().replace("\"kage\":2", "\"kage\":1");
        assert!(decode(&inconsistent).is_err(), "a format 1 record never carries a provider");
    }

    #[test]
    fn a_bare_token_from_an_older_kage_still_reads() {
        let decoded = decode("plain-refresh-token").unwrap();
        assert!(decoded.account.is_none());
        assert_eq!(decoded.credential.refresh_token.expose_secret(), "plain-refresh-token");
    }

    #[test]
    fn i9_an_entry_naming_another_account_is_refused() {
        let credential = SavedCredential::new(SecretString::from("alt-refresh".to_owned()), Some("alt".into()));
        let text = encode(&account("u-alt"), &credential);
        let error = decode_for(&account("u-main"), text.expose_secret()).unwrap_err();
        assert!(matches!(error, VaultError::Backend(_)));
        assert!(!error.to_string().contains("alt-refresh"));
    }

    #[test]
    fn a_malformed_record_is_an_error_without_its_text() {
        let error = decode(r#"{"kage": 1, "refresh_token": "hunter2"#).unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }
}
