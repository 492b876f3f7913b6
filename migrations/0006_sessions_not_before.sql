-- An account reset ends the user's sessions: access tokens issued before this time are
-- refused on every /v1/* endpoint that takes one.
ALTER TABLE users ADD COLUMN sessions_not_before timestamptz;
