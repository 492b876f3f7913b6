-- Hourly counts of the day's finished hours, rolled up by the background task as
-- audit_daily is for finished days (0018): the daily statistics count today's events live
-- only since the last finished hour instead of since midnight, so their cost is an hour's
-- events, not a day's (a busy site logs millions of events a day). Rows older than
-- yesterday are deleted by the same task; an older release ignores both tables.
CREATE TABLE audit_hourly (
    site    text NOT NULL,
    hour    timestamptz NOT NULL,
    action  text NOT NULL,
    detail  text NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (site, hour, action, detail)
);
-- The hours rolled up (an hour with no event has no audit_hourly row, but is done).
CREATE TABLE audit_hourly_done (
    hour timestamptz PRIMARY KEY
);
