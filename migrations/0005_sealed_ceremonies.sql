-- Usernameless sign-in ceremonies travel sealed in their ceremony id (nothing is stored
-- when they start); finishing one records its id here, so each finishes at most once.
-- Rows are purged once the ceremony could not be finished anyway.
CREATE TABLE spent_ceremonies (
    id          uuid PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX spent_ceremonies_expires_at_idx ON spent_ceremonies (expires_at);
