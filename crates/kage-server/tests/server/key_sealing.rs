//! The shared signing keys at rest in PostgreSQL (issue 17, low): sealed with a key the instances are given,
//! never in the table in the clear; an instance without that key cannot start (nor sign); rotating the
//! encryption key re-seals every row, and tokens signed before still verify. Runs only with
//! `KAGE_TEST_POSTGRES`.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use kage_server::key_sealing::KeySealing;
use sqlx::Connection;

use crate::support::{TEST_SEALING_KEY, TestServer, fresh_postgres_database};

const ISSUER: &str = "http://kage-sealing.test";
const NEW_KEY: &str = "TmV3IHNpZ25pbmcta2V5IGVuY3J5cHRpb24ga2V5ISE=";

async fn start_on(
    url: &str,
    sealing: Option<KeySealing>,
) -> Result<kage_server::RunningServer, kage_server::StartError> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(dir.path());
    config.database_url = Some(url.to_owned());
    config.signing_key_sealing = sealing.map(Arc::new);
    let started = kage_server::start(config).await;
    std::mem::forget(dir); // the server keeps using it until the test ends
    started
}

async fn rows(url: &str) -> Vec<(String, Vec<u8>, Option<String>)> {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_as("SELECT kid, private_key, sealed_with FROM signing_keys").fetch_all(&mut db).await.unwrap()
}

#[tokio::test]
async fn signing_keys_in_postgres_are_sealed_and_open_only_with_the_instances_key() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: the shared signing keys live in PostgreSQL only; skipped");
        return;
    };
    let first = TestServer::start_with(|config| config.database_url = Some(url.clone())).await;
    let main = first.main().await;
    let stored = rows(&url).await;
    assert_eq!(stored.len(), 1);
    let (kid, private_key, sealed_with) = &stored[0];
    assert!(SigningKey::from_pkcs8_der(private_key).is_err(), "the table holds the private key in the clear");
    let sealing = KeySealing::from_base64(TEST_SEALING_KEY, None).unwrap();
    assert_eq!(sealed_with.as_deref(), Some(sealing.current_id()));
    let der = sealing.open(kid, sealing.current_id(), private_key).unwrap();
    assert!(SigningKey::from_pkcs8_der(&der).is_ok(), "it opens with the instances' key");

    let refused = start_on(&url, None).await.err().expect("started without the encryption key");
    assert!(refused.to_string().contains("KAGE_SIGNING_KEY_ENCRYPTION_KEY"), "{refused}");
    let wrong = KeySealing::from_base64(NEW_KEY, None).unwrap();
    let refused = start_on(&url, Some(wrong)).await.err().expect("started with another encryption key");
    assert!(refused.to_string().contains("was not given"), "{refused}");
    assert_eq!(first.profile(&main).await["username"], "main");
}

#[tokio::test]
async fn rotating_the_encryption_key_reseals_every_signing_key_and_old_tokens_still_verify() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("KAGE_TEST_POSTGRES is not set: the shared signing keys live in PostgreSQL only; skipped");
        return;
    };
    let before = TestServer::start_with(|config| {
        config.database_url = Some(url.clone());
        config.issuer = Some(ISSUER.into());
    })
    .await;
    let main = before.main().await;
    let rotated = KeySealing::from_base64(NEW_KEY, Some(TEST_SEALING_KEY)).unwrap();
    let new_id = rotated.current_id().to_owned();
    let after = TestServer::start_with(|config| {
        config.database_url = Some(url.clone());
        config.issuer = Some(ISSUER.into());
        config.signing_key_sealing = Some(Arc::new(rotated));
    })
    .await;
    assert!(rows(&url).await.iter().all(|(_, _, with)| with.as_deref() == Some(new_id.as_str())), "all re-sealed");
    assert_eq!(after.profile(&main).await["username"], "main", "a token signed before the rotation verifies");
    // Once every instance has the new key, the old one opens nothing.
    let old_only = KeySealing::from_base64(TEST_SEALING_KEY, None).unwrap();
    assert!(start_on(&url, Some(old_only)).await.is_err(), "the retired key still opens the signing keys");
    let new_only = KeySealing::from_base64(NEW_KEY, None).unwrap();
    let started = start_on(&url, Some(new_only)).await.expect("starts with the new key alone");
    started.shutdown().await.unwrap();
}
