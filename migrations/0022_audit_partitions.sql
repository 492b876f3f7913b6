-- no-transaction
--
-- The audit log, partitioned by month (decision 0019): retention drops a month's partition
-- instead of deleting its rows one by one, so the purge's cost does not grow with the
-- table, and every sign-in's audit row goes into a small, recent partition.
--
-- The partitions' names are the contract rp-server's maintenance reads
-- (store::audit::Partition):
--   audit_events_yYYYYmMM         one UTC month: [first of the month, first of the next)
--   audit_events_before_yYYYYmMM  every row before that month: the table as it was before
--                                 this migration, kept whole until retention drops it
--   audit_events_default          anything no month covers (a clock far off); kept empty
-- rp-server creates the months ahead at start and on every purge pass.
--
-- An existing table becomes the "before" partition without a long lock: a CHECK
-- constraint is added NOT VALID (a moment's lock), then validated in its own transaction
-- (a scan that lets writes through), so that attaching the table needs no scan; only the
-- last, short step holds the table's exclusive lock. Each step is its own transaction
-- and safe to run again after a crash (sqlx records the migration only when all are done).
-- A new, empty table is simply replaced.
--
-- The id is no longer a primary key (a partitioned table's keys must contain the
-- partition column): ids still come from the one sequence, and nothing looks events up
-- by id alone (the keyset cursor is (occurred_at, id)). One fewer index written per event.

-- 1. Bound the old rows: everything before the first of the month after next (UTC),
--    a margin that a slow validation cannot outrun.
BEGIN;
SET LOCAL TimeZone = 'UTC';
DO $$
DECLARE
    bound timestamptz;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'audit_events'::regclass) = 'p'
       OR to_regclass('audit_partitioning_bound') IS NOT NULL
       OR NOT EXISTS (SELECT 1 FROM audit_events) THEN
        RETURN;
    END IF;
    bound := date_trunc('month', greatest(now(), (SELECT max(occurred_at) FROM audit_events)))
             + interval '2 months';
    CREATE TABLE audit_partitioning_bound (bound timestamptz NOT NULL);
    INSERT INTO audit_partitioning_bound VALUES (bound);
    EXECUTE format(
        'ALTER TABLE audit_events ADD CONSTRAINT audit_events_before_partitioning
             CHECK (occurred_at < %L) NOT VALID', bound);
END $$;
COMMIT;

-- 2. Validate it: a scan under SHARE UPDATE EXCLUSIVE, which lets inserts through.
BEGIN;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint
                WHERE conname = 'audit_events_before_partitioning' AND NOT convalidated) THEN
        ALTER TABLE audit_events VALIDATE CONSTRAINT audit_events_before_partitioning;
    END IF;
END $$;
COMMIT;

-- 3. Swap: the partitioned table takes the name, the old one becomes its "before"
--    partition (no scan: the valid constraint implies the partition's bound).
BEGIN;
SET LOCAL TimeZone = 'UTC';
DO $$
DECLARE
    bound timestamptz;
    legacy text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'audit_events'::regclass) = 'p' THEN
        RETURN;
    END IF;
    LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE;
    IF to_regclass('audit_partitioning_bound') IS NOT NULL THEN
        SELECT b.bound INTO bound FROM audit_partitioning_bound b;
        DROP TABLE audit_partitioning_bound;
    ELSIF EXISTS (SELECT 1 FROM audit_events) THEN
        -- Empty at step 1, written to since (an older instance still serving): a few
        -- rows, which the attachment below checks.
        bound := date_trunc('month', greatest(now(), (SELECT max(occurred_at) FROM audit_events)))
                 + interval '1 month';
    END IF;

    ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
    ALTER INDEX audit_events_pkey RENAME TO audit_events_unpartitioned_pkey;
    ALTER INDEX audit_events_occurred_at_idx RENAME TO audit_events_unpartitioned_occurred_at_idx;
    ALTER INDEX audit_events_sub_idx RENAME TO audit_events_unpartitioned_sub_idx;
    ALTER INDEX audit_events_credential_idx RENAME TO audit_events_unpartitioned_credential_idx;

    CREATE TABLE audit_events (
        id             bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
        occurred_at    timestamptz NOT NULL,
        actor          text NOT NULL,
        action         text NOT NULL,
        user_id        uuid,
        cognito_sub    text,
        credential_id  bytea,
        ip             inet,
        user_agent     text,
        details        jsonb NOT NULL DEFAULT '{}'
    ) PARTITION BY RANGE (occurred_at);
    -- Before the old table can go: a dropped table takes the sequences it owns with it.
    ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
    CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at DESC, id DESC);
    CREATE INDEX audit_events_sub_idx ON audit_events (cognito_sub, occurred_at DESC, id DESC)
        WHERE cognito_sub IS NOT NULL;
    CREATE INDEX audit_events_credential_idx ON audit_events (credential_id, occurred_at DESC, id DESC)
        WHERE credential_id IS NOT NULL;

    IF bound IS NULL THEN
        DROP TABLE audit_events_unpartitioned;
    ELSE
        legacy := 'audit_events_before_' || to_char(bound, '"y"YYYY"m"MM');
        EXECUTE format('ALTER TABLE audit_events_unpartitioned RENAME TO %I', legacy);
        -- Its three indexes match the new ones and are attached to them, not rebuilt.
        EXECUTE format(
            'ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
            legacy, bound);
    END IF;
    CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
END $$;
COMMIT;
