-- Passkey policies are chosen by the user's Cognito groups. At registration they come
-- from the access token; at sign-in (no token) from the groups of the user's most recent
-- access token rp-server saw, kept here.
ALTER TABLE users ADD COLUMN groups text[] NOT NULL DEFAULT '{}';
