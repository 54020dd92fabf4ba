-- Session lifetimes (docs/protocol.md, "Session lifetimes"): a session ends when it has not been refreshed for
-- the idle limit, or when it reaches the absolute limit, whichever comes first.
--   last_used_at  when the session last got tokens: its sign-in, then every refresh (RFC 3339 UTC, as
--                 created_at). Sessions from before this column start from their latest refresh.
ALTER TABLE sessions ADD COLUMN last_used_at TEXT;
UPDATE sessions SET last_used_at = COALESCE(
    (SELECT MAX(used_at) FROM refresh_tokens WHERE refresh_tokens.session_id = sessions.id), created_at);
