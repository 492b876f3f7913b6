-- Sites (decision 0020): one deployment serves several relying parties, each with its own
-- user pool. Every row belongs to one site: the tables looked up by anything other than a
-- user's id get a `site` column; the rest (recovery codes, OIDC links, weak sign-ins)
-- belong to their user's, since a user id is one site's. `server_keys` stay global, named
-- per site by rp-server.
--
-- A constant default makes each ADD COLUMN a catalog change (no rewrite, no scan): the
-- existing rows read 'default', the site of a configuration without [[site]] sections.
-- The default stays so that a release older than this one, still serving during a roll,
-- keeps inserting into the site it serves; rp-server always names the site itself.
-- The keys and indexes that lead with the site follow in 0024-0027 (built concurrently).
ALTER TABLE users ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE credentials ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE nonces ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE challenges ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE ceremonies ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE email_codes ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE enrolment_tokens ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE signup_tokens ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE pending_signups ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE oidc_codes ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE oidc_access_tokens ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE limit_counters ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE audit_daily ADD COLUMN site text NOT NULL DEFAULT 'default';
ALTER TABLE audit_events ADD COLUMN site text NOT NULL DEFAULT 'default';
