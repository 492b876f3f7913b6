-- A recovery code's session may add one passkey: when it has, the weak sign-in says so
-- (set under the user's lock, in the registration's transaction).
ALTER TABLE weak_sign_ins ADD COLUMN passkey_added_at timestamptz;
