-- Players' events as instances tell each other (docs/protocol.md, "Several instances"). An action writes its
-- events here in its own transaction and NOTIFYs only the row's id: a notification is a hint to read the
-- table, never the event itself, so a database role that may NOTIFY (any role may) but cannot write this
-- table cannot make an instance send a player an event that did not happen.
--   payload     the event as instances pass it on (its name, a newline, its JSON data).
--   created_at  seconds since the epoch by the database's clock: instances deliver only recent rows, and the
--               pruner deletes old ones.
CREATE TABLE event_outbox (
    id          BIGSERIAL PRIMARY KEY,
    payload     TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL DEFAULT extract(epoch FROM clock_timestamp())
);
CREATE INDEX event_outbox_created ON event_outbox(created_at);
