-- Passkey-first sign-ups between creating the Cognito user and committing the passkey.
-- A row that outlives its ceremony means the sign-up never finished (a crash, say): the
-- background sweep deletes its Cognito user, so the email is not held forever by an
-- account without a passkey.
CREATE TABLE pending_signups (
    id                uuid PRIMARY KEY,   -- the WebAuthn user handle chosen for the sign-up
    email             text NOT NULL,
    cognito_username  text,               -- once AdminCreateUser answered
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX pending_signups_expires_at_idx ON pending_signups (expires_at);
