//! The server's Ed25519 signing keys and the JWKS that publishes them.
//!
//! The current private key lives in `<data dir>/keys/signing-key.der` (PKCS#8, mode 0600, in a 0700
//! directory; see the `kage-files` crate), created on first
//! start. Rotation moves the current public key to `previous-public-key.bin` and makes a new current key, so
//! access tokens signed just before a rotation keep verifying until they expire; the JWKS lists both.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::json;
use sha2::{Digest, Sha256};

const CURRENT_FILE: &str = "signing-key.der";
const PREVIOUS_FILE: &str = "previous-public-key.bin";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write signing keys in {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("signing key file {path} is not a valid Ed25519 PKCS#8 key")]
    Corrupt { path: PathBuf },
    #[error("the signing key {kid} in the database is not a valid Ed25519 PKCS#8 key")]
    CorruptShared { kid: String },
    #[error("the database holds no signing key")]
    NoSharedKey,
    #[error("cannot read or write the signing keys in the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Sealing(#[from] crate::key_sealing::SealingError),
    #[error(
        "on PostgreSQL the signing keys are kept encrypted: give --signing-key-encryption-key-file or \
         KAGE_SIGNING_KEY_ENCRYPTION_KEY (32 random bytes in base64, from `openssl rand -base64 32`; the same on \
         every instance)"
    )]
    NoSealingKey,
}

pub struct SigningKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
}

impl SigningKeys {
    /// Loads the keys from `dir`, generating the signing key if there is none yet.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io { dir: dir.to_path_buf(), source };
        kage_files::private_dir(dir).map_err(io)?;
        let current_path = dir.join(CURRENT_FILE);
        let current = match fs::read(&current_path) {
            Ok(der) => {
                kage_files::restrict(&current_path).map_err(io)?;
                SigningKey::from_pkcs8_der(&der).map_err(|_| KeyError::Corrupt { path: current_path })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::from_bytes(&rand::random());
                write_private(dir, &key)?;
                key
            }
            Err(error) => return Err(io(error)),
        };
        let previous = match fs::read(dir.join(PREVIOUS_FILE)) {
            Ok(bytes) => Some(
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| KeyError::Corrupt { path: dir.join(PREVIOUS_FILE) })?,
            ),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(io(error)),
        };
        Ok(Self::from_keys(&current, previous))
    }

    /// Replaces the signing key with a new one, keeping the old public key for verification.
    pub fn rotate(dir: &Path) -> Result<Self, KeyError> {
        let old = Self::load_or_create(dir)?;
        let old_public = old.public_key_of(&old.current_kid);
        let io = |source| KeyError::Io { dir: dir.to_path_buf(), source };
        kage_files::write_atomic(&dir.join(PREVIOUS_FILE), &old_public).map_err(io)?;
        let key = SigningKey::from_bytes(&rand::random());
        write_private(dir, &key)?;
        Ok(Self::from_keys(&key, Some(old_public)))
    }

    pub(crate) fn from_keys(current: &SigningKey, previous: Option<[u8; 32]>) -> Self {
        let der = current.to_pkcs8_der().expect("an Ed25519 key always encodes as PKCS#8");
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let mut publics = vec![current.verifying_key().to_bytes()];
        publics.extend(previous);
        let mut decoding = HashMap::new();
        let mut jwks_keys = Vec::new();
        for public in &publics {
            let x = URL_SAFE_NO_PAD.encode(public);
            let kid = thumbprint(&x);
            decoding.insert(kid.clone(), DecodingKey::from_ed_der(public));
            jwks_keys.push(json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x}));
        }
        let current_kid = thumbprint(&URL_SAFE_NO_PAD.encode(publics[0]));
        Self { current_kid, encoding, decoding, jwks: json!({ "keys": jwks_keys }) }
    }

    /// The `kid` of a public key: its RFC 7638 thumbprint.
    pub fn kid_of(public: &[u8; 32]) -> String {
        thumbprint(&URL_SAFE_NO_PAD.encode(public))
    }

    fn public_key_of(&self, kid: &str) -> [u8; 32] {
        let x = self.jwks["keys"]
            .as_array()
            .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
            .and_then(|k| k["x"].as_str())
            .expect("kid comes from this key set");
        URL_SAFE_NO_PAD.decode(x).expect("x is our own encoding").try_into().expect("32-byte key")
    }

    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }

    /// The public keys as a JSON Web Key Set (RFC 7517), current key first.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key: a `kid` that names the key itself, so two servers
/// can never publish different keys under one id.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn write_private(dir: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let der = key.to_pkcs8_der().expect("an Ed25519 key always encodes as PKCS#8");
    kage_files::write_atomic(&dir.join(CURRENT_FILE), der.as_bytes())
        .map_err(|source| KeyError::Io { dir: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKeys::load_or_create(dir.path()).unwrap();
        let second = SigningKeys::load_or_create(dir.path()).unwrap();
        assert_eq!(first.current_kid(), second.current_kid());
        assert_eq!(first.jwks()["keys"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn rotation_keeps_previous_public_key_in_jwks() {
        let dir = tempfile::tempdir().unwrap();
        let before = SigningKeys::load_or_create(dir.path()).unwrap();
        let after = SigningKeys::rotate(dir.path()).unwrap();
        assert_ne!(before.current_kid(), after.current_kid());
        assert!(after.decoding_key(before.current_kid()).is_some());
        let reloaded = SigningKeys::load_or_create(dir.path()).unwrap();
        let kids: Vec<_> = reloaded.jwks()["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect();
        assert_eq!(kids, [after.current_kid(), before.current_kid()]);
    }

    #[test]
    fn corrupt_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CURRENT_FILE), b"not a key").unwrap();
        let error = SigningKeys::load_or_create(dir.path()).err().unwrap();
        assert!(error.to_string().contains("not a valid Ed25519"), "{error}");
    }
}
