-- The console's sign-in sessions, in the inventory so that every replica
-- of `modelgate serve` knows them (a load balancer may send each request
-- to another replica) and a restart signs nobody out.
--
-- Portable, like 0001. Not audited: a session is not a change to what the
-- organisation decided (signing in is logged by the server). The session
-- id is the secret in the cookie; only its SHA-256 is kept, so reading the
-- database does not let anyone take a session over. The CSRF token is the
-- session's, compared with every form the session posts.
CREATE TABLE console_sessions (
    id_sha256       TEXT PRIMARY KEY,
    user_name       TEXT NOT NULL REFERENCES users (name),
    csrf            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    -- Unix milliseconds of the last request, for the idle expiry.
    last_seen_ms    BIGINT NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen_ms);
CREATE INDEX console_sessions_user ON console_sessions (user_name);
