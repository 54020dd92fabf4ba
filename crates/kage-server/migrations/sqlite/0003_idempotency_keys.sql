-- Idempotency keys of players' actions (DESIGN.md I12; docs/protocol.md, "Idempotent actions"). A row is
-- written in the same transaction as the action it answers, so an action is never applied without its key
-- being remembered, nor remembered without being applied.
--   fingerprint  SHA-256 of method, path and canonical JSON body: the same key with another request is refused.
--   status, body the first answer, replayed byte for byte.
--   created_at   unix seconds; rows older than 24 hours are forgotten.
CREATE TABLE idempotency_keys (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
