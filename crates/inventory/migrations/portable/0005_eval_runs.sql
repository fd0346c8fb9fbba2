-- Evaluation runs: one row per run of an evaluation suite against a
-- recorded version (`modelgate eval NAME@VER --suite FILE`), kept as the
-- evidence a promotion to production can require (the policy's
-- `[evaluation] required_for_production`).
--
-- Portable, like 0001: TEXT and BIGINT, natural keys, timestamps as RFC
-- 3339 UTC text to the second, JSON documents as TEXT. `id` is assigned
-- by the writer as the previous largest + 1, inside the transaction that
-- inserts the run and appends its `eval.recorded` event (`event_seq`),
-- whose details carry the SHA-256 of the stored summary, settings and
-- report, so `audit verify` finds an edited or inserted row. Runs are
-- never changed or deleted.
CREATE TABLE eval_runs (
    id              BIGINT PRIMARY KEY,
    model           TEXT NOT NULL,
    version         TEXT NOT NULL,
    suite_name      TEXT NOT NULL,
    -- SHA-256 (lower-case hex) of the suite file and its data.
    suite_digest    TEXT NOT NULL,
    suite_kind      TEXT NOT NULL
        CHECK (suite_kind IN ('generation', 'multiple_choice', 'perplexity')),
    -- `engine` (in-process) or the endpoint's URL.
    target          TEXT NOT NULL,
    -- The engine or request settings, JSON.
    settings        TEXT NOT NULL,
    seed            BIGINT,
    started_at      TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL,
    -- 1 met, 0 not met, NULL when the suite has no threshold.
    threshold_met   BIGINT,
    -- The run's aggregates (pass rate, accuracy, perplexity, latency), JSON.
    summary         TEXT NOT NULL,
    -- The full report, JSON (at most 16 MiB).
    report          TEXT NOT NULL,
    event_seq       BIGINT NOT NULL REFERENCES events (seq),
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);
CREATE INDEX eval_runs_version ON eval_runs (model, version, suite_name, started_at);
CREATE INDEX eval_runs_suite ON eval_runs (suite_name, started_at);
