-- PostgreSQL's part of migration 0004: the usage table, partitioned by
-- day (the portable part has the keys, limits and grants). The columns
-- are SQLite's (migrations/sqlite/0004); what differs:
--
-- - `day` is range-partitioned, one partition per UTC day
--   (`usage_dYYYYMMDD`, created by the writer before it copies a day's
--   first rows), so retention drops whole partitions instead of deleting
--   rows (no dead tuples, no vacuum debt);
-- - `day` compares bytewise (`COLLATE "C"`), so the partition bounds are
--   the dates' text order whatever the database's locale;
-- - `id` comes from a sequence, so replicas insert without coordinating;
--   the primary key includes the partition key, as PostgreSQL requires.
CREATE SEQUENCE usage_id AS BIGINT;

CREATE TABLE usage (
    id                  BIGINT NOT NULL DEFAULT nextval('usage_id'),
    at                  TEXT NOT NULL,
    day                 TEXT COLLATE "C" NOT NULL,
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
    answer              TEXT,
    PRIMARY KEY (day, id)
) PARTITION BY RANGE (day);

ALTER SEQUENCE usage_id OWNED BY usage.id;

-- The usage report's and the budgets' queries, as on SQLite; created on
-- every partition.
CREATE INDEX usage_day ON usage (day, key_id, team, cost_micro_usd);
CREATE INDEX usage_team_day ON usage (team, day);
CREATE INDEX usage_key_day ON usage (key_id, day);
