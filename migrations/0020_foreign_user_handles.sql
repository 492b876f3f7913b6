-- An imported passkey keeps the user handle its old relying party gave it: a usernameless
-- sign-in returns that handle, not ours (NULL: ours, the owner's users.id). A nullable
-- column without a default: added without rewriting or long-locking the table.
ALTER TABLE credentials ADD COLUMN user_handle bytea;
