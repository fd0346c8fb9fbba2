-- SQLite's part of migration 0002 (there is no portable part): the
-- database itself refuses to change or remove an audit event. (A
-- PostgreSQL backend gets the same guarantee from its own
-- migrations/postgres/0002_append_only_events.sql: a trigger function that
-- raises, or REVOKE UPDATE, DELETE on events.) Someone
-- with write access to the file can drop these triggers; `modelgate audit
-- verify` still finds what they changed through the hash chain.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused');
END;
