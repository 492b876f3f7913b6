-- no-transaction
--
-- Cognito subs are unique per site (decision 0020), and the console's search by the start
-- of a sub is per site: one pattern-ops index serves both (its equality is text's). It
-- replaces users_cognito_sub_key and users_sub_prefix_idx when a second site is configured.
-- Built concurrently.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_site_sub_key ON users (site, cognito_sub text_pattern_ops);
