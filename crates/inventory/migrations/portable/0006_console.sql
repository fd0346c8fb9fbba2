-- The console's tables: the people who sign in to it (users, with a role)
-- and the reviews they record on versions (one per version and reviewer
-- role; a later review by the same role replaces the earlier one, and the
-- trail keeps both).
--
-- Portable, like 0001: TEXT and BIGINT, natural keys, timestamps as RFC
-- 3339 UTC text to the second. Every change is audited (`user.*` and
-- `review.*` events; `event_seq` is the event that last changed the row).

-- A console user. `password_hash` is an argon2id PHC string (salt and
-- parameters included), never the password; its SHA-256 is in the event
-- that set it, so `audit verify` finds a hash swapped in the database.
-- A disabled user keeps its row: the trail still names it.
CREATE TABLE users (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL
        CHECK (role IN ('viewer', 'reviewer:legal', 'reviewer:security',
                        'reviewer:governance', 'admin')),
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    disabled_at     TEXT,
    event_seq       BIGINT NOT NULL REFERENCES events (seq)
);

-- A reviewer's decision on a version for one review (legal, security,
-- governance): signed off or rejected, by whom, why.
CREATE TABLE reviews (
    model           TEXT NOT NULL,
    version         TEXT NOT NULL,
    reviewer        TEXT NOT NULL
        CHECK (reviewer IN ('legal', 'security', 'governance')),
    outcome         TEXT NOT NULL CHECK (outcome IN ('signed-off', 'rejected')),
    reviewed_by     TEXT NOT NULL,
    note            TEXT,
    reviewed_at     TEXT NOT NULL,
    event_seq       BIGINT NOT NULL REFERENCES events (seq),
    PRIMARY KEY (model, version, reviewer),
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);

-- The audit page filters and pages the trail by action and subject.
CREATE INDEX events_action ON events (action, seq);
CREATE INDEX events_subject ON events (subject, seq);
