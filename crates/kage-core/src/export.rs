//! The export file: saved accounts moved to another computer, encrypted with a passphrase the player chooses.
//!
//! The file is an [age](https://age-encryption.org/v1) file with one scrypt (passphrase) recipient, so it can
//! be checked or opened with any age tool, and its payload is JSON ([`ExportBundle`]). Refresh credentials
//! exist in clear only inside that encrypted payload: the plaintext is zeroized once sealed, and Debug
//! redacts them (I6). The credentials should come from [`crate::Core::fork_credential`], never the ones in
//! use here: two computers sharing one refresh-token family would sign each other out.
//!
//! scrypt's work factor is age's own choice for this computer (it times scrypt and aims at about one second),
//! so a stolen file costs an attacker that much per guessed passphrase, and the player waits a second or
//! more on export and on import: run both off the UI thread (`spawn_blocking`). Measured on the 2-core development
//! machine, scrypt optimised (as in release, and in debug through the workspace profile): seal and open about
//! 2.5 s each, calibration included (`seal_and_open_at_the_default_work_factor` prints it); show progress.
//!
//! Opening tells apart what the player can act on: a wrong passphrase (try again), a damaged file (truncated,
//! altered, or not an export at all), a file from a newer Kage, and a payload that decrypts but is not a
//! bundle. One limit of the format: damage inside the passphrase stanza itself reads as a wrong passphrase
//! (the two cannot be told apart without the passphrase being right).

use std::io::{Read, Write};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The payload format written by this version of Kage.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportBundle {
    pub version: u32,
    pub accounts: Vec<ExportedAccount>,
    /// The shell's web games and the names and settings of their accounts, opaque here. Never a sign-in: a web
    /// account's sign-in lives in its web partition, on the computer it was made on. A file written before web
    /// games has none (`null`).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub web: serde_json::Value,
}

impl ExportBundle {
    pub fn new(accounts: Vec<ExportedAccount>) -> Self {
        Self { version: FORMAT_VERSION, accounts, web: serde_json::Value::Null }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ExportedAccount {
    /// The server's origin, as [`crate::ServerOrigin::as_str`].
    pub origin: String,
    pub user_id: String,
    pub username: String,
    /// The shell's own per-account settings (window layout, proxy...): opaque here.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// A forked session's refresh credential; `None` exports the account without a session (sign in there).
    #[serde(default, with = "secret_in_payload")]
    pub refresh_token: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("choose a passphrase: an export file without one would hold the accounts' credentials in clear")]
    EmptyPassphrase,
    #[error("the export file could not be written: {0}")]
    Encrypt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    /// Truncated, altered, or not an export file at all.
    #[error("the file is damaged or is not a Kage export: {0}")]
    Damaged(String),
    #[error("the file was written by a newer Kage (format {0}); update Kage to open it")]
    UnsupportedVersion(u32),
    /// It decrypted, but the content is not an export bundle.
    #[error("the file's content is not a Kage export: {0}")]
    Malformed(String),
    /// It asks for more scrypt work than this computer allows (a file from a much faster computer, or a
    /// file made to stall whoever opens it).
    #[error("the file's passphrase protection is too expensive to open on this computer")]
    TooMuchWork,
}

/// Encrypts `bundle` with `passphrase`, at age's default work factor for this computer.
pub fn seal(bundle: &ExportBundle, passphrase: &SecretString) -> Result<Vec<u8>, ExportError> {
    seal_with(bundle, passphrase, None)
}

/// `log_n`: scrypt's work factor, `None` for age's default. Lower ones are for tests only.
fn seal_with(bundle: &ExportBundle, passphrase: &SecretString, log_n: Option<u8>) -> Result<Vec<u8>, ExportError> {
    if passphrase.expose_secret().trim().is_empty() {
        return Err(ExportError::EmptyPassphrase);
    }
    let plaintext = Zeroizing::new(serde_json::to_vec(bundle).map_err(|e| ExportError::Encrypt(e.to_string()))?);
    let mut recipient = age::scrypt::Recipient::new(age_secret(passphrase));
    if let Some(log_n) = log_n {
        recipient.set_work_factor(log_n);
    }
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| ExportError::Encrypt(e.to_string()))?;
    let mut sealed = Vec::new();
    let write = |sealed: &mut Vec<u8>| -> std::io::Result<()> {
        let mut writer = encryptor.wrap_output(sealed)?;
        writer.write_all(&plaintext)?;
        writer.finish()?;
        Ok(())
    };
    write(&mut sealed).map_err(|e| ExportError::Encrypt(e.to_string()))?;
    Ok(sealed)
}

/// Decrypts and reads an export file.
pub fn open(bytes: &[u8], passphrase: &SecretString) -> Result<ExportBundle, ImportError> {
    let decryptor = age::Decryptor::new_buffered(bytes).map_err(decrypt_error)?;
    if !decryptor.is_scrypt() {
        return Err(ImportError::Damaged("not encrypted with a passphrase".into()));
    }
    let identity = age::scrypt::Identity::new(age_secret(passphrase));
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(decrypt_error)?;
    let mut plaintext = Zeroizing::new(Vec::new());
    // The payload is authenticated chunk by chunk: a truncated or altered one fails here.
    reader.read_to_end(&mut plaintext).map_err(|e| ImportError::Damaged(e.to_string()))?;

    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let Version { version } =
        serde_json::from_slice(&plaintext).map_err(|e| ImportError::Malformed(e.without_secrets()))?;
    if version != FORMAT_VERSION {
        return Err(ImportError::UnsupportedVersion(version));
    }
    serde_json::from_slice(&plaintext).map_err(|e| ImportError::Malformed(e.without_secrets()))
}

fn decrypt_error(error: age::DecryptError) -> ImportError {
    match error {
        // The scrypt stanza did not open: with one passphrase recipient, that is the passphrase.
        age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => ImportError::WrongPassphrase,
        age::DecryptError::ExcessiveWork { .. } => ImportError::TooMuchWork,
        other => ImportError::Damaged(other.to_string()),
    }
}

/// age takes its own `SecretString` type (the same secrecy version, re-exported): the copy lives only
/// inside it, zeroized on drop.
fn age_secret(passphrase: &SecretString) -> age::secrecy::SecretString {
    age::secrecy::SecretString::from(passphrase.expose_secret().to_owned())
}

/// serde's error text quotes no input, but say so where it matters: nothing of a payload goes into an error.
trait WithoutSecrets {
    fn without_secrets(&self) -> String;
}

impl WithoutSecrets for serde_json::Error {
    fn without_secrets(&self) -> String {
        format!("{:?} error at line {} column {}", self.classify(), self.line(), self.column())
    }
}

/// Serialises a refresh credential in clear: only ever used for the payload that is encrypted next.
mod secret_in_payload {
    use secrecy::{ExposeSecret, SecretString};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &Option<SecretString>, serializer: S) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => serializer.serialize_some(secret.expose_secret()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(SecretString::from))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// 2^10: fast enough for unit tests; real files use age's default (about a second).
    const TEST_WORK: Option<u8> = Some(10);

    fn passphrase(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    fn bundle() -> ExportBundle {
        ExportBundle::new(vec![
            ExportedAccount {
                origin: "https://game.example".into(),
                user_id: "user-1".into(),
                username: "main".into(),
                settings: serde_json::json!({"proxy": "socks5://127.0.0.1:1080", "window": [10, 20]}),
                refresh_token: Some(SecretString::from("rt-secret-main")),
            },
            ExportedAccount {
                origin: "https://game.example".into(),
                user_id: "user-2".into(),
                username: "alt".into(),
                settings: serde_json::Value::Null,
                refresh_token: None,
            },
        ])
    }

    fn sealed() -> Vec<u8> {
        seal_with(&bundle(), &passphrase("correct horse"), TEST_WORK).unwrap()
    }

    #[test]
    fn a_sealed_bundle_opens_with_its_passphrase() {
        let bytes = sealed();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n-> scrypt "), "an age file with a passphrase stanza");
        let opened = open(&bytes, &passphrase("correct horse")).unwrap();
        assert_eq!(opened.version, FORMAT_VERSION);
        assert_eq!(opened.accounts.len(), 2);
        assert_eq!(opened.accounts[0].username, "main");
        assert_eq!(opened.accounts[0].settings["window"][1], 20);
        assert_eq!(opened.accounts[0].refresh_token.as_ref().unwrap().expose_secret(), "rt-secret-main");
        assert!(opened.accounts[1].refresh_token.is_none());
    }

    #[test]
    fn i6_credentials_appear_neither_in_the_file_nor_in_debug() {
        let bytes = sealed();
        assert!(!bytes.windows(14).any(|w| w == b"rt-secret-main"));
        assert!(!format!("{:?}", bundle()).contains("rt-secret-main"));
    }

    #[test]
    fn a_wrong_passphrase_is_told_apart_from_damage() {
        assert_eq!(open(&sealed(), &passphrase("wrong horse")).unwrap_err(), ImportError::WrongPassphrase);
    }

    #[test]
    fn a_flipped_byte_in_the_payload_or_header_is_damage() {
        let bytes = sealed();
        let mut payload = bytes.clone();
        let last = payload.len() - 5;
        payload[last] ^= 0x01;
        assert!(matches!(open(&payload, &passphrase("correct horse")), Err(ImportError::Damaged(_))));
        // The header's MAC line (`--- ...`) covers the header.
        let mac = bytes.windows(4).position(|w| w == b"--- ").unwrap() + 6;
        let mut header = bytes.clone();
        header[mac] = if header[mac] == b'A' { b'B' } else { b'A' };
        assert!(matches!(open(&header, &passphrase("correct horse")), Err(ImportError::Damaged(_))));
    }

    #[test]
    fn a_truncated_file_is_damage() {
        let bytes = sealed();
        for cut in [bytes.len() - 1, bytes.len() - 20, bytes.len() / 2, 30] {
            assert!(
                matches!(open(&bytes[..cut], &passphrase("correct horse")), Err(ImportError::Damaged(_))),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_an_age_file_are_damage() {
        for junk in [&b""[..], b"{\"version\":1,\"accounts\":[]}", b"age-encryption.org/v1\n", &[0xff; 64]] {
            assert!(matches!(open(junk, &passphrase("x")), Err(ImportError::Damaged(_))), "{junk:?}");
        }
    }

    #[test]
    fn an_empty_passphrase_is_refused_at_seal() {
        for empty in ["", "   "] {
            assert!(matches!(seal(&bundle(), &passphrase(empty)), Err(ExportError::EmptyPassphrase)));
        }
    }

    #[test]
    fn a_newer_format_or_a_foreign_payload_is_told_apart() {
        let seal_json = |json: &str| {
            let recipient = {
                let mut r = age::scrypt::Recipient::new(age_secret(&passphrase("p")));
                r.set_work_factor(10);
                r
            };
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
            let mut out = Vec::new();
            let mut writer = encryptor.wrap_output(&mut out).unwrap();
            writer.write_all(json.as_bytes()).unwrap();
            writer.finish().unwrap();
            out
        };
        let newer = seal_json(r#"{"version": 2, "accounts": [], "something_new": true}"#);
        assert_eq!(open(&newer, &passphrase("p")).unwrap_err(), ImportError::UnsupportedVersion(2));
        let foreign = seal_json("not json at all");
        assert!(matches!(open(&foreign, &passphrase("p")), Err(ImportError::Malformed(_))));
        let wrong_shape = seal_json(r#"{"version": 1, "accounts": [{"origin": 7}]}"#);
        let error = open(&wrong_shape, &passphrase("p")).unwrap_err();
        assert!(matches!(error, ImportError::Malformed(_)), "{error:?}");
    }

    #[test]
    fn seal_and_open_at_the_default_work_factor() {
        let started = Instant::now();
        let bytes = seal(&bundle(), &passphrase("correct horse")).unwrap();
        let sealed_in = started.elapsed();
        let started = Instant::now();
        open(&bytes, &passphrase("correct horse")).unwrap();
        println!("default work factor: seal {sealed_in:?}, open {:?}", started.elapsed());
    }
}
