-- How many passkeys the user still has with Cognito itself, as their client last reported
-- it while moving them to rp-server's (best effort: Cognito's own passkeys cannot be
-- listed by an administrator). NULL: never reported.
ALTER TABLE users ADD COLUMN cognito_passkeys integer;
