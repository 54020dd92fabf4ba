-- Provider sessions signed out on this server (issue 17 item 6): a token of `session_id` issued at or before
-- `revoked_at` (Unix seconds) is refused; one issued later (a new sign-in keeping the provider's sid) is not.
CREATE TABLE external_revocations (
    session_id TEXT PRIMARY KEY NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX external_revocations_by_time ON external_revocations (revoked_at);
