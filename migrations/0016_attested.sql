-- Whether a passkey's attestation chained, at registration, to a root the FIDO metadata
-- lists for its model (registered under a policy with attestation = "required"). A policy
-- enforced at sign-in refuses an unattested passkey of a user it now requires it of.
ALTER TABLE credentials ADD COLUMN attested boolean NOT NULL DEFAULT false;
