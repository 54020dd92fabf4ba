-- Forked sessions (docs/protocol.md, "POST /v1/sessions/fork"): a fork remembers the session it was forked
-- from, so that ending a session (sign-out, refresh-token reuse, DELETE /v1/sessions/{id}) ends every session
-- forked from it too, and GET /v1/sessions can tell the caller which sessions are its exports.
--   forked_from  the parent session's id; NULL for a sign-in. No foreign key: an ended parent is pruned
--                before a fork that outlives it (a fork's absolute end is its parent's, its idle end its own).
ALTER TABLE sessions ADD COLUMN forked_from TEXT;
CREATE INDEX sessions_forked_from ON sessions(forked_from) WHERE forked_from IS NOT NULL;
