-- PostgreSQL's part of migration 0008: every text column compares
-- bytewise (COLLATE "C"), as SQLite's do, whatever locale the database was
-- created with. The queries rely on it: the audit log's action-prefix
-- filter is a range (`action >= 'key.' AND action < 'key.' || U+10FFFF`)
-- that the (action, seq) index serves, and lists are ordered the same on
-- both engines. A later migration that adds a text column declares
-- COLLATE "C" (tests/postgres.rs checks every column).
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT c.table_name, c.column_name
        FROM information_schema.columns AS c
        JOIN pg_catalog.pg_class AS t
            ON t.relname = c.table_name
            AND t.relnamespace = to_regnamespace(c.table_schema)
        WHERE c.table_schema = current_schema()
            AND c.data_type = 'text'
            AND c.collation_name IS DISTINCT FROM 'C'
            AND t.relkind IN ('r', 'p')
            AND NOT t.relispartition
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"',
                       col.table_name, col.column_name);
    END LOOP;
END
$$;
