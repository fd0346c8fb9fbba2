-- The artifact store: which versions have their files copied into the
-- content-addressed blob store under the home (`blobs/sha256/<digest>`).
-- Each file's blob is named by the digest in version_files, so the
-- (path -> digest) mapping is that table's; a row here says every one of
-- those blobs was written and checked against it. `imported` is 1 for a
-- version recorded before the store existed and copied on first use.
CREATE TABLE stored_versions (
    model       TEXT NOT NULL,
    version     TEXT NOT NULL,
    stored_at   TEXT NOT NULL,
    imported    BIGINT NOT NULL,
    event_seq   BIGINT NOT NULL REFERENCES events (seq),
    PRIMARY KEY (model, version),
    FOREIGN KEY (model, version) REFERENCES versions (model, version)
);
