-- The PostgreSQL twin of ../sqlite/0001_initial.sql: the same tables, so every query runs on both.
--
-- What SQLite offers and PostgreSQL lacks is supplied here rather than written twice in the queries:
--   nocase       SQLite's NOCASE collation (case-insensitive usernames), as a nondeterministic ICU collation;
--   unixepoch()  SQLite's function of the same name, for the RFC 3339 text timestamps both databases store.
CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE FUNCTION unixepoch(moment TEXT, modifier TEXT DEFAULT NULL) RETURNS DOUBLE PRECISION
    LANGUAGE SQL STABLE
    AS $$ SELECT CASE WHEN modifier = 'subsec' THEN extract(epoch FROM moment::timestamptz)
                      ELSE floor(extract(epoch FROM moment::timestamptz)) END::double precision $$;

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    username       TEXT COLLATE nocase NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    level          BIGINT NOT NULL DEFAULT 1,
    xp             BIGINT NOT NULL DEFAULT 0,
    village        TEXT NOT NULL,
    ryo            BIGINT NOT NULL CHECK (ryo >= 0),
    strength       BIGINT NOT NULL DEFAULT 5,
    agility        BIGINT NOT NULL DEFAULT 5,
    chakra         BIGINT NOT NULL DEFAULT 5,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('api', 'browser')),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_why TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at   TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
