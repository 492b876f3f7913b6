-- A recovery code's session may add one passkey: when it has, the weak sign-in says so
-- (set under the user's lock, in the registration's transaction).
ALTER TABLE weak_sign_ins ADD COLUMN passkey_added_at timestamptz;
-- A passkey sign-in of the same user soon after a weak one: tokens issued after it
-- belong to the passkey's session, not to the code's (decision 0013).
ALTER TABLE weak_sign_ins ADD COLUMN passkey_after_at timestamptz;
