-- PostgreSQL's part of migration 0002 (there is no portable part): the
-- database itself refuses to change or remove an audit event, as SQLite's
-- triggers do. A role that owns the table can still disable the trigger;
-- `modelgate audit verify` then finds what was changed through the hash
-- chain. Deployments can also REVOKE UPDATE, DELETE, TRUNCATE on events
-- from the role modelgate connects as.
CREATE FUNCTION modelgate_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION modelgate_events_append_only();

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION modelgate_events_append_only();

CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION modelgate_events_append_only();
