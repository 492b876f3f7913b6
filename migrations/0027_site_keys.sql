-- Sites (decision 0020), last step of the expansion: the small, short-lived tables get
-- their keys that lead with the site (built in place: they hold minutes of rows), and a
-- crash that left one of 0024-0026's concurrent builds invalid stops here with what to do.
--
-- The old keys stay (credentials_pkey on the id alone, users_cognito_sub_key, and the
-- primary keys of email_codes, limit_counters and audit_daily): a release older than
-- 0023, still serving during a roll, names them in its ON CONFLICT clauses. They go when
-- a second site is first configured (store::sites::allow_several), which only a release
-- that knows sites can do.
DO $$
DECLARE
    broken text;
BEGIN
    SELECT string_agg(c.relname, ', ') INTO broken
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname IN ('credentials_site_key', 'users_site_sub_key', 'users_site_username_prefix_idx')
       AND NOT i.indisvalid;
    IF broken IS NOT NULL THEN
        RAISE EXCEPTION 'index % was left invalid by an interrupted build', broken
            USING HINT = 'DROP INDEX it, DELETE FROM _sqlx_migrations WHERE version IN (24, 25, 26), and start rp-server again: it builds the index again.';
    END IF;
END $$;

CREATE UNIQUE INDEX IF NOT EXISTS email_codes_site_key ON email_codes (site, email, purpose);
CREATE UNIQUE INDEX IF NOT EXISTS limit_counters_site_key ON limit_counters (site, key);
CREATE UNIQUE INDEX IF NOT EXISTS audit_daily_site_key ON audit_daily (site, day, action, detail);
