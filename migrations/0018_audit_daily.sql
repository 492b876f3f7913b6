-- Daily counts for the console's charts, rolled up once per finished UTC day by the
-- background task, so a 30-day view reads ≤ 30 × (a few dozen) rows plus today's events
-- (a range of the occurred_at index), whatever the size of the audit log.
CREATE TABLE audit_daily (
    day     date NOT NULL,
    action  text NOT NULL,
    -- What tells events of one action apart: a sign-in's kind, a failure's reason.
    detail  text NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (day, action, detail)
);
-- The days rolled up (a day with no event has no audit_daily row, but is done).
CREATE TABLE audit_daily_done (
    day date PRIMARY KEY
);
