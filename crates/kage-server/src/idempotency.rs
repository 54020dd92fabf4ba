//! Idempotent actions (docs/design.md, I12): a player's action is carried out at most once however its answer is
//! lost and retried.
//!
//! A client sends `Idempotency-Key: <1-64 visible ASCII characters>` with a transfer, training or travel. The
//! first request with a key is carried out and its answer (status and body) is stored under (player, key) *in
//! the same database transaction as the action itself*: a crash can leave neither an action without its key
//! nor a key without its action. A later request from the same player with the same key, within 24 hours, gets
//! that first answer again, byte for byte, with `Idempotent-Replayed: true`, and nothing is done. A later
//! request with the same key but a different request (method, path or body) is refused with 422
//! `idempotency_key_reused`: the client has mixed up its keys, and guessing which request it meant would be
//! worse than saying so.
//!
//! Answers the action gives for the request itself (409 insufficient ryo, 404 no such player, 422) are
//! remembered like successes, so a retry cannot turn a refusal into a transfer after the balance changed.
//! Internal failures (500) are not: the transaction is rolled back, nothing was done, and a retry runs anew.
//!
//! Settling (`POST /v1/actions/settle` with a key): a client that gave up resending an action, its answers lost,
//! asks what became of it. If the key's action was carried out (or refused), the answer is its first answer. If
//! no request with that key has arrived, the key is recorded as *abandoned*, in the same locked step, so the
//! action can no longer happen: a try still on its way that arrives later is answered 409 `action_abandoned`
//! and does nothing. Either way the client can tell its player for certain whether the action happened.
//!
//! Concurrency: on SQLite every claim runs on the single writer connection (see `db`), so of twenty requests
//! sent at once with one key, the first does the action and records it before the next even looks. On
//! PostgreSQL, where those twenty may reach different server instances, a claim first takes a transaction
//! lock on (player, key), to the same effect.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Transaction};

use crate::db::Database;
use crate::error::ApiError;
use crate::tokens::unix_now;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
pub const KEY_MAX: usize = 64;
pub const REMEMBER_FOR: Duration = Duration::from_secs(24 * 3600);

/// A valid `Idempotency-Key` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The request's key, if it sent one: 1 to 64 visible ASCII characters (`!` to `~`), in one header.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let mut values = headers.get_all(HEADER).iter();
        let Some(value) = values.next() else { return Ok(None) };
        if values.next().is_some() {
            return Err(invalid_key("send one Idempotency-Key header, not several"));
        }
        let bytes = value.as_bytes();
        if bytes.is_empty() || bytes.len() > KEY_MAX || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(invalid_key(&format!("an Idempotency-Key is 1 to {KEY_MAX} visible ASCII characters")));
        }
        Ok(Some(Self(String::from_utf8(bytes.to_vec()).expect("visible ASCII is UTF-8"))))
    }
}

fn invalid_key(message: &str) -> ApiError {
    ApiError::bad_request("invalid_idempotency_key", message)
}

/// A digest of what a request asks for: method, path, and the JSON body with its keys sorted, so the same
/// request sent again matches whatever the order or spacing of its fields.
pub fn fingerprint(method: &Method, path: &str, body: &Map<String, Value>) -> String {
    let mut text = format!("{method} {path}\n");
    canonical(&Value::Object(body.clone()), &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stands in the fingerprint column for a key that was settled before any request with it arrived. A real
/// fingerprint is 64 hex digits, so it cannot be this.
const ABANDONED: &str = "abandoned";

/// What became of the action a key was sent with (see the module's "Settling").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    /// It arrived and was answered: `status` and `answer` are its first answer (2xx: carried out; 4xx: refused).
    Answered { status: u16, answer: Value },
    /// It never arrived, and now never will be carried out.
    Abandoned,
}

/// A valid `Idempotency-Key` value given in a body (as to settle), under the header's rules.
pub fn parse_key(value: &str) -> Result<IdempotencyKey, ApiError> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(value).map_err(|_| invalid_key("a key is visible ASCII characters"))?;
    headers.insert(HEADER, value);
    IdempotencyKey::from_headers(&headers)?.ok_or_else(|| invalid_key("a key is required"))
}

fn lock_name(user_id: &str, key: &IdempotencyKey) -> String {
    format!("idempotency\n{user_id}\n{}", key.0)
}

/// What is remembered under a (player, key).
struct Record {
    fingerprint: String,
    status: u16,
    body: String,
}

/// Takes the (player, key) lock for the rest of `tx` and reads what is remembered under it. A record older than
/// [`REMEMBER_FOR`] is deleted and counts as none.
async fn lock_and_read(
    db: &Database,
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    key: &IdempotencyKey,
) -> Result<Option<Record>, ApiError> {
    db.lock_for_transaction(tx, &lock_name(user_id, key)).await?;
    let found: Option<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT fingerprint, status, body, created_at FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(&key.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((fingerprint, status, body, created_at)) = found else { return Ok(None) };
    if created_at <= forget_before() {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user_id)
            .bind(&key.0)
            .execute(&mut **tx)
            .await?;
        return Ok(None);
    }
    let status = u16::try_from(status).map_err(ApiError::internal)?;
    Ok(Some(Record { fingerprint, status, body }))
}

/// Stores `record` under (player, key), now, in `tx` (which holds the lock [`lock_and_read`] took).
async fn remember(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    key: &IdempotencyKey,
    record: &Record,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(&key.0)
    .bind(&record.fingerprint)
    .bind(i64::from(record.status))
    .bind(&record.body)
    .bind(i64::try_from(unix_now()).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Tells `user_id` what became of the action sent with `key`; if none arrived, makes sure none ever will.
pub async fn settle(db: &Database, user_id: &str, key: IdempotencyKey) -> Result<Settlement, ApiError> {
    let mut tx = db.writer.begin().await?;
    if let Some(record) = lock_and_read(db, &mut tx, user_id, &key).await? {
        if record.fingerprint == ABANDONED {
            return Ok(Settlement::Abandoned);
        }
        let answer = serde_json::from_str(&record.body).map_err(ApiError::internal)?;
        return Ok(Settlement::Answered { status: record.status, answer });
    }
    let refusal = ApiError::conflict(
        "action_abandoned",
        "this action was given up on before it arrived (the client settled its key): nothing was done",
    );
    let abandoned =
        Record { fingerprint: ABANDONED.to_owned(), status: refusal.status().as_u16(), body: refusal.body_json() };
    remember(&mut tx, user_id, &key, &abandoned).await?;
    tx.commit().await?;
    Ok(Settlement::Abandoned)
}

/// A remembered first answer.
pub struct StoredAnswer {
    status: u16,
    body: String,
}

impl IntoResponse for StoredAnswer {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        response
    }
}

/// What to do with a request: answer it from memory, or carry it out.
pub enum Claim {
    Replay(StoredAnswer),
    Run(Pending),
}

/// An action about to run: an open transaction on the writer, and the key to record with its answer.
pub struct Pending {
    tx: Transaction<'static, Any>,
    record: Option<(String, IdempotencyKey, String)>,
}

/// Savepoint around the action, so a refusal can be undone while its answer is still recorded.
const SAVEPOINT: &str = "SAVEPOINT idempotent_action";

/// Starts `user_id`'s request with `key` (if any) whose [`fingerprint`] is `fingerprint`.
pub async fn claim(
    db: &Database,
    user_id: &str,
    key: Option<IdempotencyKey>,
    fingerprint: &str,
) -> Result<Claim, ApiError> {
    let mut tx = db.writer.begin().await?;
    let Some(key) = key else { return Ok(Claim::Run(Pending { tx, record: None })) };
    if let Some(record) = lock_and_read(db, &mut tx, user_id, &key).await? {
        // The same request gets its first answer; a key settled before any request arrived answers every
        // request with its refusal; any other request under a used key is the client's mistake.
        if record.fingerprint != ABANDONED && record.fingerprint != fingerprint {
            return Err(ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different request; use a new key per action",
            ));
        }
        return Ok(Claim::Replay(StoredAnswer { status: record.status, body: record.body }));
    }
    sqlx::query(SAVEPOINT).execute(&mut *tx).await?;
    Ok(Claim::Run(Pending { tx, record: Some((user_id.to_owned(), key, fingerprint.to_owned())) }))
}

/// Deletes every player's keys older than [`REMEMBER_FOR`]; returns how many.
pub async fn prune(db: &Database) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= $1")
        .bind(forget_before())
        .execute(&db.writer)
        .await?;
    Ok(done.rows_affected())
}

fn forget_before() -> i64 {
    i64::try_from(unix_now().saturating_sub(REMEMBER_FOR.as_secs())).unwrap_or(i64::MAX)
}

impl Pending {
    /// Where the action runs: inside the claim's transaction.
    pub fn connection(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Records the action's answer with its key and commits both, or rolls everything back on an internal
    /// failure. A success is answered with status `success` and the body `answer` makes of it (as JSON).
    pub async fn finish<T, A: Serialize>(
        mut self,
        result: Result<T, ApiError>,
        success: StatusCode,
        answer: impl FnOnce(&T) -> &A,
    ) -> Result<T, ApiError> {
        let Some((user_id, key, fingerprint)) = self.record.take() else {
            if result.is_ok() {
                self.tx.commit().await?;
            }
            return result;
        };
        let (status, body) = match &result {
            Ok(value) => (success, serde_json::to_string(answer(value)).map_err(ApiError::internal)?),
            Err(refusal) if refusal.status().is_client_error() => {
                sqlx::query("ROLLBACK TO idempotent_action").execute(&mut *self.tx).await?;
                (refusal.status(), refusal.body_json())
            }
            // Dropping the transaction rolls it back: nothing done, nothing remembered.
            Err(_) => return result,
        };
        sqlx::query("RELEASE idempotent_action").execute(&mut *self.tx).await?;
        // This player's old keys only: their row is locked by the action already, so on PostgreSQL two players'
        // actions never wait on each other here (everyone's old keys go with the periodic prune).
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at <= $2")
            .bind(&user_id)
            .bind(forget_before())
            .execute(&mut *self.tx)
            .await?;
        remember(&mut self.tx, &user_id, &key, &Record { fingerprint, status: status.as_u16(), body }).await?;
        self.tx.commit().await?;
        result
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(value: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_bytes(value).unwrap());
        IdempotencyKey::from_headers(&headers)
    }

    #[test]
    fn keys_are_one_to_64_visible_ascii_characters() {
        assert!(key(b"a").unwrap().is_some());
        assert!(key(&[b'~'; 64]).unwrap().is_some());
        assert!(key(b"0c7e1f0e-2b1a-4c1e-9a57-6f0d3a0f1b2c").unwrap().is_some());
        for bad in [&b""[..], &[b'k'; 65], b"with space", b"tab\there", b"caf\xc3\xa9"] {
            assert!(matches!(key(bad), Err(ApiError::BadRequest { code: "invalid_idempotency_key", .. })), "{bad:?}");
        }
        assert_eq!(IdempotencyKey::from_headers(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn the_fingerprint_ignores_field_order_and_spacing_but_not_values_or_route() {
        let object = |value: Value| value.as_object().unwrap().clone();
        let a = fingerprint(&Method::POST, "/v1/transfers", &object(json!({"to": "alt", "amount": 5})));
        let b: Value = serde_json::from_str(r#"{ "amount" : 5,"to":"alt" }"#).unwrap();
        assert_eq!(a, fingerprint(&Method::POST, "/v1/transfers", &object(b)));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/transfers", &object(json!({"to": "alt", "amount": 6}))));
        assert_ne!(a, fingerprint(&Method::POST, "/v1/viewer/travel", &object(json!({"to": "alt", "amount": 5}))));
    }
}
