-- See ../sqlite/0002_refresh_grace.sql.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed BYTEA;
CREATE INDEX refresh_tokens_successor ON refresh_tokens(successor_hash) WHERE successor_hash IS NOT NULL;
