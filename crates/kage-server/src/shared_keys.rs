//! The signing keys on PostgreSQL: one key set for every instance, in the `signing_keys` table.
//!
//! Instances behind one load balancer must verify each other's access tokens, so they sign with the same key.
//! The first instance to start creates it; `--rotate-signing-key` on any instance adds a new current key and
//! keeps the one before as previous (as the key files do on SQLite, see [`crate::keys`]). Both happen under a
//! transaction lock, so two instances starting at once make one key, not two. A rotation is announced on
//! [`KEYS_CHANNEL`]; every instance's listener (see [`crate::cluster`]) then reloads the set, so tokens the
//! rotating instance signs verify everywhere from then on. Private keys are sealed at rest ([`KeySealing`]); a
//! row sealed with the previous encryption key (or not at all, from before sealing) is sealed again with the
//! current one by the next instance to start, in the same locked transaction.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::db::{Database, now_rfc3339};
use crate::key_sealing::KeySealing;
use crate::keys::{KeyError, SigningKeys};

/// The PostgreSQL `NOTIFY` channel a rotation is announced on.
pub const KEYS_CHANNEL: &str = "kage_keys";

/// The shared key set, created on first start, rotated first if `rotate`; every row sealed with `sealing`'s
/// current key on the way.
pub async fn load_or_create(db: &Database, rotate: bool, sealing: &KeySealing) -> Result<SigningKeys, KeyError> {
    let mut tx = db.writer.begin().await?;
    db.lock_for_transaction(&mut tx, "signing keys").await?;
    reseal(&mut tx, sealing).await?;
    let mut keys = newest_two(&mut tx, sealing).await?;
    if keys.is_empty() || rotate {
        let key = SigningKey::from_bytes(&rand::random());
        let der = key.to_pkcs8_der().expect("an Ed25519 key always encodes as PKCS#8");
        let kid = SigningKeys::kid_of(&key.verifying_key().to_bytes());
        sqlx::query("INSERT INTO signing_keys (kid, private_key, created_at, sealed_with) VALUES ($1, $2, $3, $4)")
            .bind(&kid)
            .bind(sealing.seal(&kid, der.as_bytes()))
            .bind(now_rfc3339())
            .bind(sealing.current_id())
            .execute(&mut *tx)
            .await?;
        // Tokens signed with a key two rotations old have expired: no one needs it any more.
        if let Some(previous) = keys.first() {
            sqlx::query("DELETE FROM signing_keys WHERE kid <> $1 AND kid <> $2")
                .bind(&kid)
                .bind(&previous.0)
                .execute(&mut *tx)
                .await?;
        }
        db.notify(&mut tx, KEYS_CHANNEL, &kid).await?;
        keys.insert(0, (kid, key));
        keys.truncate(2);
    }
    tx.commit().await?;
    key_set(keys)
}

/// The key set as it is now, for an instance told of a rotation.
pub async fn reload(db: &Database, sealing: &KeySealing) -> Result<SigningKeys, KeyError> {
    let mut connection = db.reader.acquire().await?;
    key_set(newest_two(&mut connection, sealing).await?)
}

/// Seals again with the current key every row sealed otherwise (the previous key, or none).
async fn reseal(connection: &mut sqlx::AnyConnection, sealing: &KeySealing) -> Result<(), KeyError> {
    let rows: Vec<(String, Vec<u8>, Option<String>)> = sqlx::query_as(
        "SELECT kid, private_key, sealed_with FROM signing_keys WHERE sealed_with IS NULL OR sealed_with <> $1",
    )
    .bind(sealing.current_id())
    .fetch_all(&mut *connection)
    .await?;
    for (kid, stored, sealed_with) in rows {
        let der = match &sealed_with {
            Some(sealed_with) => sealing.open(&kid, sealed_with, &stored)?,
            None => zeroize::Zeroizing::new(stored),
        };
        sqlx::query("UPDATE signing_keys SET private_key = $1, sealed_with = $2 WHERE kid = $3")
            .bind(sealing.seal(&kid, &der))
            .bind(sealing.current_id())
            .bind(&kid)
            .execute(&mut *connection)
            .await?;
        tracing::info!(%kid, "sealed a signing key with the current encryption key");
    }
    Ok(())
}

/// The newest key signs; the one before it, if any, still verifies.
fn key_set(newest_first: Vec<(String, SigningKey)>) -> Result<SigningKeys, KeyError> {
    let mut keys = newest_first.into_iter().map(|(_, key)| key);
    let current = keys.next().ok_or(KeyError::NoSharedKey)?;
    Ok(SigningKeys::from_keys(&current, keys.next().map(|previous| previous.verifying_key().to_bytes())))
}

async fn newest_two(
    connection: &mut sqlx::AnyConnection,
    sealing: &KeySealing,
) -> Result<Vec<(String, SigningKey)>, KeyError> {
    let rows: Vec<(String, Vec<u8>, Option<String>)> =
        sqlx::query_as("SELECT kid, private_key, sealed_with FROM signing_keys ORDER BY created_at DESC, kid LIMIT 2")
            .fetch_all(connection)
            .await?;
    rows.into_iter()
        .map(|(kid, stored, sealed_with)| {
            let sealed_with = sealed_with.ok_or_else(|| KeyError::CorruptShared { kid: kid.clone() })?;
            let der = sealing.open(&kid, &sealed_with, &stored)?;
            match SigningKey::from_pkcs8_der(&der) {
                Ok(key) => Ok((kid, key)),
                Err(_) => Err(KeyError::CorruptShared { kid }),
            }
        })
        .collect()
}
