-- rp-server's schema. Times are stored as timestamptz; every expiry is compared with a
-- time the server passes in, so tests can move the clock.

-- A Cognito user who has (or is registering) passkeys. `id` doubles as the WebAuthn
-- user handle: random (UUID v4), never derived from the email or username.
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    cognito_sub   text NOT NULL UNIQUE,
    username      text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE credentials (
    credential_id    bytea PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- webauthn-rs-core's Credential (public key, policy, extensions) as JSON; the
    -- counter and backup flags below are authoritative and conditionally updated.
    passkey          jsonb NOT NULL,
    nickname         text,
    aaguid           uuid,
    sign_count       bigint NOT NULL,
    backup_eligible  boolean NOT NULL,
    backup_state     boolean NOT NULL,
    transports       text[] NOT NULL DEFAULT '{}',
    user_verified    boolean,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);
CREATE INDEX credentials_user_id_idx ON credentials (user_id);

-- In-flight ceremonies. Finishing one deletes it (DELETE ... RETURNING), so each is
-- consumed exactly once whatever the outcome.
CREATE TABLE ceremonies (
    id            uuid PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('registration', 'authentication')),
    -- registration: the registering user; username-first authentication: the user
    -- the challenge was issued for (NULL for discoverable and fake challenges).
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    -- set when the ceremony was started by the Create Auth Challenge trigger
    challenge_id  uuid,
    state         jsonb NOT NULL,
    nickname      text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX ceremonies_expires_at_idx ON ceremonies (expires_at);

-- Challenges handed to the Create Auth Challenge trigger; a nonce can only be
-- redeemed for a challenge issued to the same user.
CREATE TABLE challenges (
    id            uuid PRIMARY KEY,
    cognito_sub   text NOT NULL,
    user_pool_id  text NOT NULL,
    client_id     text NOT NULL,
    ceremony_id   uuid NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX challenges_expires_at_idx ON challenges (expires_at);

-- One-time nonces, stored only as SHA-256 hashes.
CREATE TABLE nonces (
    nonce_hash             bytea PRIMARY KEY,
    user_id                uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cognito_sub            text NOT NULL,
    credential_id          bytea NOT NULL,
    -- username-first: the nonce is only good for the challenge that started it
    bound_challenge_id     uuid,
    redeemed_at            timestamptz,
    redeemed_challenge_id  uuid,
    created_at             timestamptz NOT NULL,
    expires_at             timestamptz NOT NULL
);
CREATE INDEX nonces_expires_at_idx ON nonces (expires_at);

-- Server-side secrets generated on first start and shared by every instance
-- (e.g. the key that makes fake challenge options stable per username).
CREATE TABLE server_keys (
    name        text PRIMARY KEY,
    secret      bytea NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Append-only record of every state change.
CREATE TABLE audit_events (
    id             bigserial PRIMARY KEY,
    occurred_at    timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    user_id        uuid,
    cognito_sub    text,
    credential_id  bytea,
    ip             inet,
    user_agent     text,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_sub_action_idx ON audit_events (cognito_sub, action, occurred_at DESC);
CREATE INDEX audit_events_credential_idx ON audit_events (credential_id, occurred_at DESC);
