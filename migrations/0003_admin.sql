-- Credentials are revoked, never deleted: a revoked credential id stays in the table so
-- it can never be used or registered again.
ALTER TABLE credentials ADD COLUMN revoked_at timestamptz;
ALTER TABLE credentials ADD COLUMN revoked_by text;
ALTER TABLE credentials ADD COLUMN revoked_reason text;
CREATE INDEX credentials_active_user_idx ON credentials (user_id) WHERE revoked_at IS NULL;

-- One-time enrolment tokens for account recovery, stored only as SHA-256 hashes.
CREATE TABLE enrolment_tokens (
    id           uuid PRIMARY KEY,
    token_hash   bytea NOT NULL UNIQUE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX enrolment_tokens_user_idx ON enrolment_tokens (user_id, created_at DESC);
CREATE INDEX enrolment_tokens_expires_idx ON enrolment_tokens (expires_at);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, occurred_at DESC);
CREATE INDEX audit_events_action_idx ON audit_events (action, occurred_at DESC);
