-- The console's sign-in attempts, counted against the user name and the
-- address each came from, in the inventory so that every replica of
-- `modelgate serve` counts the same ones: five per name, and five per
-- address, in 15 minutes, however a load balancer spreads them.
--
-- Portable. Not audited (a sign-in is logged by the server, not a change
-- to what the organisation decided). An attempt is counted before its
-- password is checked, so tries sent at once to several replicas cannot
-- pass the limit together, and taken back when it succeeds: the rows that
-- stay are failures. `subject` is `user:NAME` or `ip:ADDRESS`; rows older
-- than the window are deleted as new attempts come.
CREATE TABLE console_login_attempts (
    attempt     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    -- Unix milliseconds.
    at_ms       BIGINT NOT NULL
);
CREATE INDEX console_login_attempts_subject ON console_login_attempts (subject, at_ms);
CREATE INDEX console_login_attempts_at ON console_login_attempts (at_ms);
CREATE INDEX console_login_attempts_attempt ON console_login_attempts (attempt);
