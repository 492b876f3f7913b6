-- Passkey-first sign-up: a ceremony for someone who is not a Cognito user yet carries
-- the email being signed up and the WebAuthn user handle chosen for them.
ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_kind_check;
ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_kind_check
    CHECK (kind IN ('registration', 'authentication', 'signup'));
ALTER TABLE ceremonies ADD COLUMN signup_email text;
ALTER TABLE ceremonies ADD COLUMN user_handle uuid;
ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_signup_fields
    CHECK ((kind = 'signup') = (signup_email IS NOT NULL AND user_handle IS NOT NULL));
