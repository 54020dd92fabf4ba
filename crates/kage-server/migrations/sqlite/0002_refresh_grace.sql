-- Refresh-token grace period (docs/protocol.md, "Refresh tokens"): a spent token remembers which token replaced
-- it, so presenting it again shortly after can answer with that same successor instead of revoking.
--   successor_hash   SHA-256 of the successor, as token_hash; set when this token is spent.
--   successor_sealed the successor's 32 random bytes XOR SHA-256("kage-successor" || this token). Only the holder
--                    of this (spent) token can unseal it; the database alone reveals nothing. Cleared (NULL) as
--                    soon as the successor itself is used, which closes the grace period for good.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed BLOB;
CREATE INDEX refresh_tokens_successor ON refresh_tokens(successor_hash) WHERE successor_hash IS NOT NULL;
