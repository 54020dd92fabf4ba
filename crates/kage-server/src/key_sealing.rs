//! Sealing the shared signing keys at rest in PostgreSQL (issue 17): a reader of the `signing_keys` table
//! (a backup, a replica, a role granted too much) must not be able to sign tokens.
//!
//! Each private key is encrypted with ChaCha20-Poly1305 under a 32-byte key that instances get from the
//! environment or a file (`--signing-key-encryption-key-file`, `KAGE_SIGNING_KEY_ENCRYPTION_KEY`), never
//! from the database, with a fresh random nonce, and the row's `kid` as associated data (a sealed key moved to
//! another row does not open). Each row names the encryption key it is sealed with by an id (the first 8
//! bytes of the key's SHA-256), so an instance given the wrong key says so instead of failing obscurely.
//!
//! Rotating the encryption key: start instances with the new key as current and the old one as previous
//! (`--previous-signing-key-encryption-key-file`, `KAGE_PREVIOUS_SIGNING_KEY_ENCRYPTION_KEY`). The first to
//! start re-seals every row under the new key; once all run with the new key, drop the previous one.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// The encryption keys an instance holds: the current one seals, the previous one (during a rotation) still
/// opens.
pub struct KeySealing {
    current: SealingKey,
    previous: Option<SealingKey>,
}

struct SealingKey {
    id: String,
    cipher: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("a signing-key encryption key is 32 bytes in base64 (for example from `openssl rand -base64 32`)")]
    BadKey,
    #[error("the signing key {kid} is sealed with encryption key {sealed_with}, which this instance was not given")]
    UnknownKey { kid: String, sealed_with: String },
    #[error("the signing key {kid} does not open with its encryption key: the key or the row is not the right one")]
    DoesNotOpen { kid: String },
}

impl KeySealing {
    /// Keys given as base64 text (a file's contents or an environment variable), surrounding space ignored.
    pub fn from_base64(current: &str, previous: Option<&str>) -> Result<Self, SealingError> {
        Ok(Self {
            current: SealingKey::from_base64(current)?,
            previous: previous.map(SealingKey::from_base64).transpose()?,
        })
    }

    /// The id of the current key, as rows sealed with it name it.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// `der` sealed for row `kid`: nonce, then ciphertext.
    pub fn seal(&self, kid: &str, der: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .current
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: der, aad: kid.as_bytes() })
            .expect("ChaCha20-Poly1305 seals any length we store");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The DER of row `kid`, sealed with key `sealed_with`.
    pub fn open(&self, kid: &str, sealed_with: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealingError> {
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == sealed_with)
            .ok_or_else(|| SealingError::UnknownKey { kid: kid.to_owned(), sealed_with: sealed_with.to_owned() })?;
        let does_not_open = || SealingError::DoesNotOpen { kid: kid.to_owned() };
        if sealed.len() < NONCE_LEN {
            return Err(does_not_open());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce's length");
        key.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: kid.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| does_not_open())
    }
}

impl SealingKey {
    fn from_base64(text: &str) -> Result<Self, SealingError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| SealingError::BadKey)?,
        );
        let key: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.as_slice().try_into().map_err(|_| SealingError::BadKey)?);
        let digest = Sha256::digest(key.as_slice());
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { id, cipher: ChaCha20Poly1305::new(&Key::from(*key)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const TWO: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_for_its_row() {
        let sealing = KeySealing::from_base64(ONE, None).unwrap();
        let sealed = sealing.seal("kid-a", b"private key bytes");
        assert!(!sealed.windows(17).any(|w| w == b"private key bytes"), "the key is not in the sealed bytes");
        assert_eq!(sealing.open("kid-a", sealing.current_id(), &sealed).unwrap().as_slice(), b"private key bytes");
        assert!(matches!(sealing.open("kid-b", sealing.current_id(), &sealed), Err(SealingError::DoesNotOpen { .. })));
        let other = KeySealing::from_base64(TWO, None).unwrap();
        assert!(matches!(other.open("kid-a", sealing.current_id(), &sealed), Err(SealingError::UnknownKey { .. })));
        let rotated = KeySealing::from_base64(TWO, Some(ONE)).unwrap();
        assert!(rotated.open("kid-a", sealing.current_id(), &sealed).is_ok(), "the previous key still opens");
        assert!(KeySealing::from_base64("c2hvcnQ=", None).is_err(), "too short");
    }
}
