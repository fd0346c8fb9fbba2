-- SQLite's part of migration 0008: nothing to do. SQLite compares text
-- bytewise (the BINARY collation) unless told otherwise; PostgreSQL's part
-- makes its text columns do the same.
SELECT 1;
