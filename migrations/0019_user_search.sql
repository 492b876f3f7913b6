-- The console finds users by the start of their username or sub (LIKE 'prefix%'):
-- pattern-ops indexes serve a prefix whatever the database's collation. Users are
-- written once per new user, so the two indexes cost nothing on the sign-in path.
CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops, cognito_sub);
CREATE INDEX users_sub_prefix_idx ON users (cognito_sub text_pattern_ops);
