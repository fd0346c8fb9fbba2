-- The inventory: models, their versions with the vet evidence, stage
-- history, variants, teams and the audit trail.
--
-- Portable SQL on purpose (migrations/portable/), so a PostgreSQL backend
-- can run this file as it is: TEXT and BIGINT only, natural keys (no
-- autoincrement, no rowid), timestamps as RFC 3339 UTC text
-- (`2026-11-22T20:28:40Z`), dates as `YYYY-MM-DD`, JSON documents as TEXT,
-- standard CHECK/REFERENCES/INDEX. What a backend does its own way lives in
-- migrations/<backend>/ under the same number (0002: append-only events).

-- The audit trail: append-only, each event chained to the one before by
-- SHA-256 (see src/audit.rs for the canonical bytes). `seq` is assigned by
-- the writer as the previous event's seq + 1, inside the transaction that
-- makes the change the event records.
CREATE TABLE events (
    seq         BIGINT PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);

CREATE TABLE models (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

-- One vetted version of a model. Immutable evidence (files, facts, report)
-- plus its current stage; the stage's history is in stage_changes.
CREATE TABLE versions (
    model           TEXT NOT NULL REFERENCES models (name),
    version         TEXT NOT NULL,
    stage           TEXT NOT NULL
        CHECK (stage IN ('candidate', 'approved', 'production', 'deprecated', 'revoked')),
    source_path     TEXT NOT NULL,
    format          TEXT,
    architecture    TEXT,
    parameters      BIGINT,
    quantization    TEXT,
    total_bytes     BIGINT NOT NULL,
    decision        TEXT NOT NULL
        CHECK (decision IN ('approved', 'needs-review', 'rejected')),
    reviewers       TEXT NOT NULL,
    license         TEXT,
    license_name    TEXT,
    license_terms   TEXT,
    publisher       TEXT,
    source          TEXT,
    revision        TEXT,
    base_models     TEXT NOT NULL,
    toolchain       TEXT NOT NULL,
    signature       TEXT NOT NULL,
    signer          TEXT,
    report          TEXT NOT NULL,
    description     TEXT NOT NULL,
    added_at        TEXT NOT NULL,
    added_by        TEXT NOT NULL,
    stage_at        TEXT NOT NULL,
    stage_by        TEXT NOT NULL,
    stage_note      TEXT,
    review_by       TEXT,
    PRIMARY KEY (model, version)
);
CREATE INDEX versions_stage ON versions (stage);
CREATE INDEX versions_review_by ON versions (review_by);

-- The OMS-style manifest: every file's path, size and SHA-256.
CREATE TABLE version_files (
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    PRIMARY KEY (model, version, path),
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);

-- Explicit links: (model, version) is a variant of (of_model, of_version),
-- e.g. another quantization of the same weights.
CREATE TABLE variants (
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    of_model    TEXT NOT NULL,
    of_version  TEXT NOT NULL,
    PRIMARY KEY (model, version, of_model, of_version),
    FOREIGN KEY (model, version) REFERENCES versions (model, version),
    FOREIGN KEY (of_model, of_version) REFERENCES versions (model, version)
);
CREATE INDEX variants_of ON variants (of_model, of_version);

-- Every stage a version has been in: who, when, why. `from_stage` is NULL
-- when the version was added.
CREATE TABLE stage_changes (
    event_seq   BIGINT PRIMARY KEY REFERENCES events (seq),
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    from_stage  TEXT,
    to_stage    TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    note        TEXT,
    override    BIGINT NOT NULL,
    sign_offs   TEXT NOT NULL,
    review_by   TEXT,
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);
CREATE INDEX stage_changes_version ON stage_changes (model, version);

CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

-- Which team uses which version, for what.
CREATE TABLE assignments (
    team        TEXT NOT NULL REFERENCES teams (name),
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    assigned_at TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    event_seq   BIGINT NOT NULL REFERENCES events (seq),
    PRIMARY KEY (team, model, version),
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);
CREATE INDEX assignments_version ON assignments (model, version);
