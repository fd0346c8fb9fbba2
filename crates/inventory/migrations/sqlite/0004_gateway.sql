-- SQLite's part of migration 0004: the usage table, one table (the
-- portable part has the keys, limits and grants).

-- One row per request served (or refused) by the gateway. `id` is
-- assigned by the writer as the previous largest + 1, inside the
-- transaction that inserts the batch. `day` is the UTC date of `at`, for
-- the reports and for retention, which deletes whole days in small
-- batches. `prompt` and `answer` are NULL unless the server is configured
-- to keep them. No foreign keys: usage outlives keys and versions, and
-- inserting must stay cheap.
CREATE TABLE usage (
    id                  BIGINT PRIMARY KEY,
    at                  TEXT NOT NULL,
    day                 TEXT NOT NULL,
    request_id          TEXT NOT NULL,
    key_id              TEXT,
    team                TEXT NOT NULL,
    route               TEXT NOT NULL,
    target              TEXT NOT NULL,
    version             TEXT,
    data_class          TEXT NOT NULL,
    tokens_in           BIGINT NOT NULL,
    tokens_out          BIGINT NOT NULL,
    cost_micro_usd      BIGINT NOT NULL,
    latency_ms          BIGINT NOT NULL,
    ttft_ms             BIGINT,
    status              BIGINT NOT NULL,
    error               TEXT,
    prompt              TEXT,
    answer              TEXT
);
-- By day, covering what the month-to-date spending per key reads (a
-- server's budgets at start): only its first, partial day reads the rows.
CREATE INDEX usage_day ON usage (day, key_id, team, cost_micro_usd);
CREATE INDEX usage_team_day ON usage (team, day);
CREATE INDEX usage_key_day ON usage (key_id, day);
