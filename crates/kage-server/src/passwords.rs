//! Password hashing with argon2id (the crate's default parameters, OWASP's minimum), as a per-server service.
//!
//! Hashing is deliberately slow, so it runs on the blocking pool. An unknown username is checked against a
//! fixed dummy hash so it costs the same time as a wrong password and the answer cannot tell them apart.
//! [`Passwords`] counts the checks it has run, so tests (and operators) can see how much password work the
//! throttles let through.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

use crate::error::ApiError;
use crate::secret::Secret;

#[derive(Default)]
pub struct Passwords {
    checks: AtomicU64,
}

impl Passwords {
    pub async fn hash(&self, password: Secret) -> Result<String, ApiError> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// `stored` is `None` for an unknown user: the work is done anyway and the answer is `false`.
    pub async fn verify(&self, password: Secret, stored: Option<String>) -> Result<bool, ApiError> {
        self.checks.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let parsed = PasswordHash::new(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
            let matches = Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
            Ok(known && matches)
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Password checks (sign-in verifications) started since this server started.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"kage-dummy-password", &salt).expect("argon2 hashes").to_string()
    })
}
