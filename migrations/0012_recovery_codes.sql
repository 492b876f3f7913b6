-- One-time recovery codes: ten per set, a new set replaces the old, stored only as a
-- keyed hash bound to the user.
CREATE TABLE recovery_codes (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
