-- A nonce earned by an email code (email sign-in) names no passkey.
ALTER TABLE nonces ALTER COLUMN credential_id DROP NOT NULL;
