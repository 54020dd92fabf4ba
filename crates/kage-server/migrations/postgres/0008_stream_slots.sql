-- The event streams every instance holds open, one row each, so a player's limit of open streams holds across
-- instances (src/stream_slots.rs). SQLite has no twin: its one server process counts in memory.
--
-- `expires_at` is unix seconds of the database's clock: the instance holding the stream pushes it forward
-- while the stream is open, so the rows of an instance that died without a word lapse by themselves.
CREATE TABLE stream_slots (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL,
    instance    TEXT NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX stream_slots_user ON stream_slots(user_id);
CREATE INDEX stream_slots_instance ON stream_slots(instance);
