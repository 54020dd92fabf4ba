-- See ../sqlite/0006_session_forks.sql.
ALTER TABLE sessions ADD COLUMN forked_from TEXT;
CREATE INDEX sessions_forked_from ON sessions(forked_from) WHERE forked_from IS NOT NULL;
