-- Typed ceremony state: `state` holds the tagged CeremonyState (its kind and everything
-- that kind needs), so the per-kind columns go. Ceremonies live minutes; the ones in
-- flight during the upgrade are dropped and their users start again.
DELETE FROM ceremonies;
ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_signup_fields;
ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_kind_check;
ALTER TABLE ceremonies
    DROP COLUMN challenge_id,
    DROP COLUMN nickname,
    DROP COLUMN signup_email,
    DROP COLUMN user_handle;
ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_kind_check
    CHECK (kind IN ('registration', 'enrolment', 'sign_up', 'sign_in', 'challenge'));

-- Only the audit indexes a query uses: every sign-in writes three audit rows, and each
-- index is written with them. The admin log filters on sub, credential or time; nothing
-- reads by user_id, and action filters (the admin log, stats) scan the time index.
DROP INDEX audit_events_sub_action_idx;
DROP INDEX audit_events_user_idx;
DROP INDEX audit_events_action_idx;
DROP INDEX audit_events_credential_idx;
CREATE INDEX audit_events_sub_idx ON audit_events (cognito_sub, occurred_at DESC, id DESC)
    WHERE cognito_sub IS NOT NULL;
CREATE INDEX audit_events_credential_idx ON audit_events (credential_id, occurred_at DESC, id DESC)
    WHERE credential_id IS NOT NULL;
