-- no-transaction
--
-- The console's search by the start of a username, per site (replaces
-- users_username_prefix_idx when a second site is configured). Built concurrently.
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_site_username_prefix_idx ON users (site, lower(username) text_pattern_ops, cognito_sub);
