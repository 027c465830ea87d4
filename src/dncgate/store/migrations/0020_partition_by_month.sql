-- call_log, call_outcome and notifications become tables partitioned by month (declarative, RANGE on a
-- time column, months in UTC), so retention drops a whole month at once and a complaint's verification
-- reads only the months of its window. Every row is moved; the tables keep their names, so no query
-- has to know. Partitions are named <table>_pYYYYMM, plus <table>_default.
--
-- The partition keys, and how each uniqueness the code relies on survives (a primary key of a
-- partitioned table must include its partition key):
--   call_log      at              PRIMARY KEY (call_id, at). A call id is made once, with its call's
--                                 time (service/checks.py new_call_id), and a redelivered stream entry
--                                 carries the same time: the recorder's ON CONFLICT (call_id, at) still
--                                 inserts a call once.
--   call_outcome  call_at (new)   the call's time, carried onto the outcome (store/outcomes.py merge);
--                                 PRIMARY KEY (call_id, call_at). A call has one time, so the merge's
--                                 ON CONFLICT (call_id, call_at) still keeps one row per call. Outcomes
--                                 of calls not in call_log when this runs take the milliseconds of
--                                 their call id (the call's time to the millisecond; see evidence.py).
--   notifications case_created_at the filing time of the notice's case (complaints.created_at);
--                 (new)           PRIMARY KEY (notification_id, case_created_at). A notification id
--                                 names its case (domain/notices.py), and a case has one filing time,
--                                 so ON CONFLICT (notification_id, case_created_at) still finds a
--                                 retried request's notice, whatever time the retry has. `seq` stays
--                                 an identity (GENERATED ALWAYS, nobody supplies it), indexed but no
--                                 longer UNIQUE: a unique index would have to include the key.
--
-- A DEFAULT partition takes a row of a month that has no partition (a clock far ahead, an old call
-- backfilled): an insert never fails for want of one. The maintenance loop (store/partitions.py)
-- moves such rows into their month's partition.
-- notifications keeps its foreign key to complaints (a partitioned table may reference one) and its
-- guard trigger, now on the partitioned table and so on every partition, present and future.

-- This migration copies the columns it names. A column another migration added to one of the three
-- tables would be lost with the old table: refuse to run instead, until this file names it too.
DO $$
DECLARE
    expected jsonb := '{
        "call_log": ["call_id", "at", "caller_e164", "callee_key", "callee_masked", "agent_id", "org_id",
                     "campaign_id", "category", "decision", "reason", "violation", "request_id", "recorded_at"],
        "call_outcome": ["call_id", "dialled", "connected", "duration_seconds", "consumer_opted_out",
                         "reported_at", "request_id"],
        "notifications": ["notification_id", "seq", "case_id", "kind", "text", "destination_masked",
                          "destination_sealed", "created_at", "delivered_at", "attempts", "last_error",
                          "next_attempt_at"]}';
    t text;
    found jsonb;
BEGIN
    FOR t IN SELECT jsonb_object_keys(expected) LOOP
        SELECT jsonb_agg(attname ORDER BY attnum) INTO found FROM pg_attribute
            WHERE attrelid = t::regclass AND attnum > 0 AND NOT attisdropped;
        IF found <> expected -> t THEN
            RAISE EXCEPTION 'migration 0020 copies % columns %, the table has %', t, expected -> t, found;
        END IF;
    END LOOP;
END $$;

-- Months from the oldest row's through three ahead of now, for a parent and its copy of the old rows.
CREATE FUNCTION pg_temp.month_partitions(parent text, oldest timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    month date := date_trunc('month', COALESCE(LEAST(oldest, now()), now()) AT TIME ZONE 'UTC')::date;
    last  date := (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months')::date;
BEGIN
    WHILE month <= last LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
            parent || '_p' || to_char(month, 'YYYYMM'), parent,
            to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char(month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
        month := (month + interval '1 month')::date;
    END LOOP;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', parent || '_default', parent);
END $$;

-- The old tables step aside with their indexes' names, which the new tables take.
ALTER TABLE call_log RENAME TO call_log_0019;
ALTER INDEX call_log_pkey RENAME TO call_log_0019_pkey;
ALTER INDEX call_log_callee RENAME TO call_log_0019_callee;
ALTER INDEX call_log_org RENAME TO call_log_0019_org;
ALTER TABLE call_outcome RENAME TO call_outcome_0019;
ALTER INDEX call_outcome_pkey RENAME TO call_outcome_0019_pkey;
ALTER TABLE notifications RENAME TO notifications_0019;
ALTER INDEX notifications_pkey RENAME TO notifications_0019_pkey;
ALTER INDEX notifications_seq_key RENAME TO notifications_0019_seq_key;
ALTER INDEX notifications_case RENAME TO notifications_0019_case;
ALTER INDEX notifications_undelivered RENAME TO notifications_0019_undelivered;
ALTER SEQUENCE notifications_seq_seq RENAME TO notifications_0019_seq_seq;
DROP TRIGGER notifications_guard ON notifications_0019;

CREATE TABLE call_log (
    call_id        text        NOT NULL,
    at             timestamptz NOT NULL,
    caller_e164    text        NOT NULL,
    callee_key     bytea       NOT NULL,
    callee_masked  text        NOT NULL,
    agent_id       text        NOT NULL,
    org_id         text        NOT NULL,
    campaign_id    text        NOT NULL,
    category       smallint    NOT NULL,
    decision       text        NOT NULL CHECK (decision IN ('ALLOW', 'BLOCK')),
    reason         text        NOT NULL,
    violation      boolean     NOT NULL,
    request_id     text        NOT NULL DEFAULT '',
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (call_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX call_log_callee ON call_log (callee_key, caller_e164, at);
CREATE INDEX call_log_org ON call_log (org_id, at);
SELECT pg_temp.month_partitions('call_log', (SELECT min(at) FROM call_log_0019));
INSERT INTO call_log (call_id, at, caller_e164, callee_key, callee_masked, agent_id, org_id, campaign_id,
                      category, decision, reason, violation, request_id, recorded_at)
    SELECT call_id, at, caller_e164, callee_key, callee_masked, agent_id, org_id, campaign_id,
           category, decision, reason, violation, request_id, recorded_at
    FROM call_log_0019;

CREATE TABLE call_outcome (
    call_id            text        NOT NULL,
    call_at            timestamptz NOT NULL,
    dialled            boolean     NOT NULL,
    connected          boolean     NOT NULL,
    duration_seconds   integer     NOT NULL CHECK (duration_seconds >= 0),
    consumer_opted_out boolean     NOT NULL,
    reported_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id         text,
    PRIMARY KEY (call_id, call_at)
) PARTITION BY RANGE (call_at);
CREATE TEMPORARY TABLE outcome_times ON COMMIT DROP AS
    SELECT o.call_id,
           COALESCE(l.at,
                    CASE WHEN o.call_id ~ '^[0-9a-f]{32}$'
                         THEN to_timestamp(('x' || lpad(left(o.call_id, 12), 16, '0'))::bit(64)::bigint / 1000.0)
                    END,
                    o.reported_at) AS call_at
    FROM call_outcome_0019 o LEFT JOIN call_log_0019 l USING (call_id);
SELECT pg_temp.month_partitions('call_outcome', (SELECT min(call_at) FROM outcome_times));
INSERT INTO call_outcome (call_id, call_at, dialled, connected, duration_seconds, consumer_opted_out,
                          reported_at, request_id)
    SELECT o.call_id, t.call_at, o.dialled, o.connected, o.duration_seconds, o.consumer_opted_out,
           o.reported_at, o.request_id
    FROM call_outcome_0019 o JOIN outcome_times t USING (call_id);

CREATE TABLE notifications (
    notification_id    text        NOT NULL,
    seq                bigint      GENERATED ALWAYS AS IDENTITY,
    case_id            text        NOT NULL REFERENCES complaints (case_id),
    case_created_at    timestamptz NOT NULL,
    kind               text        NOT NULL
        CHECK (kind IN ('ACCEPTED', 'UPDATE', 'VERDICT', 'PAYOUT_PAID', 'EXTENSION', 'REVISIT')),
    text               text        NOT NULL,
    destination_masked text        NOT NULL,
    destination_sealed bytea,
    created_at         timestamptz NOT NULL,
    delivered_at       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error         text        NOT NULL DEFAULT '',
    next_attempt_at    timestamptz NOT NULL,
    PRIMARY KEY (notification_id, case_created_at)
) PARTITION BY RANGE (case_created_at);
CREATE INDEX notifications_seq ON notifications (seq);
CREATE INDEX notifications_case ON notifications (case_id, seq);
CREATE INDEX notifications_undelivered ON notifications (seq) WHERE delivered_at IS NULL;
SELECT pg_temp.month_partitions('notifications',
    (SELECT min(c.created_at) FROM notifications_0019 n JOIN complaints c USING (case_id)));
INSERT INTO notifications (notification_id, seq, case_id, case_created_at, kind, text, destination_masked,
                           destination_sealed, created_at, delivered_at, attempts, last_error, next_attempt_at)
    OVERRIDING SYSTEM VALUE
    SELECT n.notification_id, n.seq, n.case_id, c.created_at, n.kind, n.text, n.destination_masked,
           n.destination_sealed, n.created_at, n.delivered_at, n.attempts, n.last_error, n.next_attempt_at
    FROM notifications_0019 n JOIN complaints c USING (case_id);
-- The identity goes on from the last seq handed out (is_called false: the next one is exactly that).
SELECT setval(pg_get_serial_sequence('notifications', 'seq'),
              COALESCE((SELECT last_value FROM notifications_0019_seq_seq WHERE is_called) + 1,
                       (SELECT max(seq) + 1 FROM notifications_0019), 1),
              false);

-- The guard of 0010, which now also keeps the partition key: a notice never changes case.
CREATE OR REPLACE FUNCTION notifications_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'notifications are never deleted';
    END IF;
    IF NEW.notification_id IS DISTINCT FROM OLD.notification_id OR NEW.seq IS DISTINCT FROM OLD.seq
       OR NEW.case_id IS DISTINCT FROM OLD.case_id OR NEW.kind IS DISTINCT FROM OLD.kind
       OR NEW.case_created_at IS DISTINCT FROM OLD.case_created_at
       OR ((NEW.text IS DISTINCT FROM OLD.text OR NEW.destination_masked IS DISTINCT FROM OLD.destination_masked)
           AND current_setting('dncgate.erasure', true) IS DISTINCT FROM 'on')
       OR NEW.created_at IS DISTINCT FROM OLD.created_at
       OR (NEW.destination_sealed IS NOT NULL AND NEW.destination_sealed IS DISTINCT FROM OLD.destination_sealed)
       OR (OLD.delivered_at IS NOT NULL AND NEW.delivered_at IS DISTINCT FROM OLD.delivered_at) THEN
        RAISE EXCEPTION 'a notification changes only its delivery bookkeeping, or loses its destination';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER notifications_guard BEFORE UPDATE OR DELETE ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_guard();

-- Every row is in its new table (a count that differs aborts the migration, and with it this transaction).
DO $$
BEGIN
    IF (SELECT count(*) FROM call_log) <> (SELECT count(*) FROM call_log_0019)
       OR (SELECT count(*) FROM call_outcome) <> (SELECT count(*) FROM call_outcome_0019)
       OR (SELECT count(*) FROM notifications) <> (SELECT count(*) FROM notifications_0019) THEN
        RAISE EXCEPTION 'partitioning lost rows: not migrating';
    END IF;
END $$;
DROP TABLE call_log_0019;
DROP TABLE call_outcome_0019;
DROP TABLE notifications_0019;
DROP FUNCTION pg_temp.month_partitions(text, timestamptz);
