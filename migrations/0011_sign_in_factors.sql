-- How each nonce was earned: a passkey, an email code, or (later) a recovery code.
ALTER TABLE nonces ADD COLUMN factor text NOT NULL DEFAULT 'passkey'
    CHECK (factor IN ('passkey', 'email', 'recovery'));
UPDATE nonces SET factor = 'email' WHERE credential_id IS NULL;

-- Sign-ins by a factor weaker than a passkey, recorded when the Verify trigger redeems
-- their nonce: a session whose auth_time matches one may not change passkeys (only add
-- the first). Kept 30 days (a credential change also needs RP_REAUTH_MAX_AGE_SECS).
CREATE TABLE weak_sign_ins (
    id           bigserial PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    factor       text NOT NULL CHECK (factor IN ('email', 'recovery')),
    redeemed_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX weak_sign_ins_user_idx ON weak_sign_ins (user_id, redeemed_at);
CREATE INDEX weak_sign_ins_expires_at_idx ON weak_sign_ins (expires_at);
