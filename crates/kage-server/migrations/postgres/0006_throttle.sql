-- The sign-in, sign-up and refresh throttles' counts, shared by every instance on this database
-- (src/throttle/postgres.rs). SQLite has no twin: its one server process counts in memory.
--
-- Times are unix seconds of the database's clock (clock_timestamp()), one clock for all instances.
-- A row whose window is over, or whose bucket is full again, means the same as no row; sweeps delete them,
-- oldest first by the indexes below.

-- A fixed window: `count` attempts since `started_at`. The key names what is counted: sign-ins of one
-- username (as a digest) from one address, sign-ins from one address, sign-ups from one address.
CREATE TABLE throttle_windows (
    key         TEXT PRIMARY KEY NOT NULL,
    count       BIGINT NOT NULL CHECK (count >= 0),
    started_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX throttle_windows_started ON throttle_windows(started_at);

-- A refresh token bucket per client address: `tokens` as of `at`.
CREATE TABLE refresh_buckets (
    address  TEXT PRIMARY KEY NOT NULL,
    tokens   DOUBLE PRECISION NOT NULL,
    at       DOUBLE PRECISION NOT NULL
);
CREATE INDEX refresh_buckets_at ON refresh_buckets(at);
