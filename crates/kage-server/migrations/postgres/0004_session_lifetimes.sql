-- See ../sqlite/0004_session_lifetimes.sql.
ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
