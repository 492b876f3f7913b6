-- no-transaction
--
-- Credential ids are unique per site (decision 0020). Built concurrently: sign-ins go on
-- updating credentials while it builds. One statement only: a file of several runs as one
-- implicit transaction, where CONCURRENTLY is refused. 0027 refuses to go on if a crash
-- left it invalid; it becomes the primary key when a second site is configured.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS credentials_site_key ON credentials (site, credential_id);
