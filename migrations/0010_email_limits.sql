-- A code verifies only together with the request it was sent for (`codeRequestId`,
-- stored as a hash). Codes made before this have no request and cannot verify: they
-- live ten minutes, so they are dropped rather than kept unusable.
DELETE FROM email_codes;
ALTER TABLE email_codes ADD COLUMN request_hash bytea NOT NULL;

-- Counted limits (code requests per address and per client, failed verifications per
-- address and per client, sign-up codes per client and in all). A row per key, locked
-- while it is checked and counted, so bursts cannot race past a limit; `hits` holds the
-- times within the last day (a sliding window, never longer than its limit), `total`
-- the failures that only a sign-in by another factor or an admin's unlock clears.
CREATE TABLE limit_counters (
    key         text PRIMARY KEY,
    hits        timestamptz[] NOT NULL DEFAULT '{}',
    total       integer NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX limit_counters_expires_at_idx ON limit_counters (expires_at);

-- Replaced by limit_counters.
DROP TABLE email_sends;
