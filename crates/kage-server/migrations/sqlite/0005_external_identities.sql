-- External identities (docs/protocol.md, "External issuer (OpenID Connect)"): the player an OpenID Connect
-- provider's (issuer, sub) is. sub is the provider's stable id for a person, so a player is found by it, never
-- by name. Such players are created on their first request and have no password: users.password_hash is ''
-- for them, which password sign-in treats as "no such user".
CREATE TABLE external_identities (
    issuer      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    user_id     TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
