-- The shared signing keys sealed at rest (docs/protocol.md, "Several instances"): private_key holds a 12-byte
-- nonce and the PKCS#8 DER encrypted with ChaCha20-Poly1305 (the row's kid as associated data) under a key the
-- instances get from the environment or a file, never from the database. Whoever reads this table no longer
-- holds the signing key.
--   sealed_with  the id of the encryption key (the first 8 bytes of its SHA-256, hex); NULL for a row written
--                before sealing, which the next instance to start seals.
ALTER TABLE signing_keys ADD COLUMN sealed_with TEXT;
