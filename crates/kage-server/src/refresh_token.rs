//! The refresh token as a value: how one is made, how it is stored (a hash), and how a spent token can hand
//! back its successor during the grace period without the database ever holding that successor in the clear.
//!
//! A token is 32 random bytes, sent as 43 characters of unpadded base64url. The database keeps SHA-256 of the
//! text. When a token is spent, its successor's 32 bytes are kept *sealed to the spent token*: XORed with
//! SHA-256("kage-successor" || spent token). Whoever presents the spent token can unseal the successor (that
//! is the grace period: a client whose answer was lost gets the same successor again), while a copy of the
//! database alone reveals nothing, since it holds only a different hash of the spent token. The key is a
//! one-time pad in effect: each spent token seals exactly one successor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Random bytes in a refresh token.
pub const TOKEN_BYTES: usize = 32;

/// Domain separation: this hash of a token is a sealing key, never comparable with the stored `token_hash`.
const SEAL_CONTEXT: &[u8] = b"kage-successor";

/// A new refresh token: its text (for the client) and its raw bytes (for sealing).
pub struct NewToken {
    pub text: Secret,
    pub bytes: Zeroizing<[u8; TOKEN_BYTES]>,
}

pub fn generate() -> NewToken {
    let bytes = Zeroizing::new(rand::random::<[u8; TOKEN_BYTES]>());
    NewToken { text: encode(&bytes), bytes }
}

fn encode(bytes: &[u8; TOKEN_BYTES]) -> Secret {
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database stores for a token, and looks it up by.
pub fn hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn sealing_key(spent: &str) -> Zeroizing<[u8; TOKEN_BYTES]> {
    let mut hasher = Sha256::new();
    hasher.update(SEAL_CONTEXT);
    hasher.update(spent.as_bytes());
    Zeroizing::new(hasher.finalize().into())
}

/// Seals `successor` so that only the holder of `spent` can read it back.
pub fn seal(successor: &[u8; TOKEN_BYTES], spent: &str) -> Vec<u8> {
    let key = sealing_key(spent);
    successor.iter().zip(key.iter()).map(|(s, k)| s ^ k).collect()
}

/// Unseals a successor with the spent token presented now. `expected_hash` is the successor's stored hash:
/// anything else (a corrupt column, a wrong length) is `None`, never a made-up token.
pub fn unseal(sealed: &[u8], spent: &str, expected_hash: &str) -> Option<Secret> {
    let sealed: &[u8; TOKEN_BYTES] = sealed.try_into().ok()?;
    let key = sealing_key(spent);
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    for (out, (s, k)) in bytes.iter_mut().zip(sealed.iter().zip(key.iter())) {
        *out = s ^ k;
    }
    let text = encode(&bytes);
    (hash(text.expose()) == expected_hash).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_successor_opens_only_with_the_spent_token() {
        let spent = generate();
        let successor = generate();
        let successor_hash = hash(successor.text.expose());
        let sealed = seal(&successor.bytes, spent.text.expose());
        let opened = unseal(&sealed, spent.text.expose(), &successor_hash).expect("the spent token opens it");
        assert_eq!(opened.expose(), successor.text.expose());
        let other = generate();
        assert!(unseal(&sealed, other.text.expose(), &successor_hash).is_none());
    }

    #[test]
    fn the_sealed_bytes_are_neither_the_successor_nor_derivable_from_stored_hashes() {
        let spent = generate();
        let successor = generate();
        let sealed = seal(&successor.bytes, spent.text.expose());
        assert_ne!(sealed.as_slice(), successor.bytes.as_slice());
        // The stored hash of the spent token is not the sealing key.
        let stored = URL_SAFE_NO_PAD.decode(hash(spent.text.expose())).unwrap();
        let guessed: Vec<u8> = sealed.iter().zip(&stored).map(|(s, k)| s ^ k).collect();
        assert_ne!(guessed.as_slice(), successor.bytes.as_slice());
    }

    #[test]
    fn a_corrupt_seal_is_refused() {
        let spent = generate();
        let successor = generate();
        let successor_hash = hash(successor.text.expose());
        let mut sealed = seal(&successor.bytes, spent.text.expose());
        assert!(unseal(&sealed[..31], spent.text.expose(), &successor_hash).is_none());
        sealed[0] ^= 1;
        assert!(unseal(&sealed, spent.text.expose(), &successor_hash).is_none());
    }

    #[test]
    fn tokens_are_43_characters_of_base64url() {
        let token = generate();
        assert_eq!(token.text.expose().len(), 43);
        assert!(token.text.expose().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
