-- One-time email codes: at most one live code per address and purpose (a new one
-- replaces it), stored only as a keyed hash, with its failed attempts counted.
CREATE TABLE email_codes (
    email       text NOT NULL,
    purpose     text NOT NULL CHECK (purpose IN ('sign_in', 'sign_up')),
    code_hash   bytea NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    spent_at    timestamptz,
    PRIMARY KEY (email, purpose)
);
CREATE INDEX email_codes_expires_at_idx ON email_codes (expires_at);

-- Every code request, for the per-address and per-IP daily limits (kept a day).
CREATE TABLE email_sends (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    ip          inet,
    sent_at     timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX email_sends_expires_at_idx ON email_sends (expires_at);
CREATE INDEX email_sends_email_idx ON email_sends (email, sent_at);
CREATE INDEX email_sends_ip_idx ON email_sends (ip, sent_at);

-- Proof that an address received a sign-up code: `/v1/signup/*` takes it instead of
-- trusting the address. Stored hashed; spent by the sign-up it verified.
CREATE TABLE signup_tokens (
    token_hash  bytea PRIMARY KEY,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX signup_tokens_expires_at_idx ON signup_tokens (expires_at);
