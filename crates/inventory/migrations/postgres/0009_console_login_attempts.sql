-- PostgreSQL's part of migration 0009: the new table's text compares
-- bytewise, as 0008 made every other (tests/postgres.rs checks).
ALTER TABLE console_login_attempts
    ALTER COLUMN attempt TYPE text COLLATE "C",
    ALTER COLUMN subject TYPE text COLLATE "C";
