-- Signing keys shared by every server instance on this database (docs/protocol.md, "Several instances"): an
-- access token signed by one instance verifies on all. The newest row is the current key, the one before it
-- the previous key (kept so tokens signed just before a rotation verify until they expire); older rows are
-- deleted at rotation. On SQLite (one process) the keys stay in the data directory's files instead.
--   private_key  the Ed25519 key as PKCS#8 DER. As secret as the key files: whoever can read this table can
--                sign tokens, so the database's credentials are the server's own.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   TEXT NOT NULL
);
