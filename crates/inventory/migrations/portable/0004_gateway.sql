-- The gateway's tables: who may call `modelgate serve` (API keys), how
-- much (team and key limits), which routes each team may call (route
-- grants), and what was used (usage records).
--
-- Portable, like 0001: TEXT and BIGINT, natural keys, timestamps as RFC
-- 3339 UTC text to the second, dates as `YYYY-MM-DD`. Keys, limits and
-- grants change rarely and each change is audited (`key.*`, `team.*`
-- events; `event_seq` is the event that last changed the row). Usage
-- records are not audited: there is one per request.

-- An API key. The presented key is `mg-<id>-<secret>`; only the SHA-256
-- of the secret part is stored (lower-case hex), never the secret. Limits
-- are NULL when not set. A revoked key keeps its row (revoked_* set), so
-- usage and the audit trail still name it; `rotated_from` is the key this
-- one replaced.
CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    team                TEXT NOT NULL REFERENCES teams (name),
    name                TEXT,
    secret_hash         TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    created_by          TEXT NOT NULL,
    expires_on          TEXT,
    rpm                 BIGINT,
    tpm                 BIGINT,
    max_parallel        BIGINT,
    budget_micro_usd    BIGINT,
    data_class          TEXT NOT NULL
        CHECK (data_class IN ('public', 'internal', 'confidential', 'restricted')),
    revoked_at          TEXT,
    revoked_by          TEXT,
    revoke_reason       TEXT,
    rotated_from        TEXT REFERENCES api_keys (id),
    event_seq           BIGINT NOT NULL REFERENCES events (seq)
);
CREATE INDEX api_keys_team ON api_keys (team);

-- A team's limits, over all its keys. NULL: not limited.
CREATE TABLE team_limits (
    team                TEXT PRIMARY KEY REFERENCES teams (name),
    rpm                 BIGINT,
    tpm                 BIGINT,
    max_parallel        BIGINT,
    budget_micro_usd    BIGINT,
    updated_at          TEXT NOT NULL,
    updated_by          TEXT NOT NULL,
    event_seq           BIGINT NOT NULL REFERENCES events (seq)
);

-- Which routes (the `model` a client asks for) a team's keys may call.
CREATE TABLE route_grants (
    team                TEXT NOT NULL REFERENCES teams (name),
    route               TEXT NOT NULL,
    granted_at          TEXT NOT NULL,
    granted_by          TEXT NOT NULL,
    event_seq           BIGINT NOT NULL REFERENCES events (seq),
    PRIMARY KEY (team, route)
);

-- The usage table is each backend's own (migrations/<backend>/0004): SQLite
-- keeps one table; PostgreSQL partitions it by day.
