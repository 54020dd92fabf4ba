//! The per-flow secrets: the PKCE verifier and its S256 challenge (RFC 7636), and the `state` and `nonce`
//! values, all from the thread-local CSPRNG (ChaCha, seeded from the OS).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A verifier of 64 characters (48 random bytes), inside RFC 7636's 43..=128, from the unreserved set.
pub struct Pkce {
    pub verifier: SecretString,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = SecretString::from(random_urlsafe(48));
        let challenge = challenge_of(&verifier);
        Self { verifier, challenge }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// `BASE64URL(SHA256(verifier))`, no padding: the S256 method.
pub fn challenge_of(verifier: &SecretString) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()))
}

/// `bytes` random bytes as unpadded base64url (for `state` and `nonce`: 32 bytes, 43 characters).
pub fn random_urlsafe(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        let verifier = SecretString::from("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        assert_eq!(challenge_of(&verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn verifiers_are_long_enough_unreserved_and_never_repeat() {
        let (a, b) = (Pkce::new(), Pkce::new());
        let verifier = a.verifier.expose_secret();
        assert!((43..=128).contains(&verifier.len()), "{}", verifier.len());
        assert!(verifier.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
        assert_ne!(verifier, b.verifier.expose_secret());
        assert_eq!(a.challenge, challenge_of(&a.verifier));
        assert_ne!(random_urlsafe(32), random_urlsafe(32));
        assert_eq!(random_urlsafe(32).len(), 43);
    }
}
