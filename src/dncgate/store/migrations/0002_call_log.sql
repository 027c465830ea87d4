-- The call log: every Check's call event, drained from the Redis stream `dnc:calls` by the recorder.
-- callee_key is HMAC-SHA256(pepper, E.164) (empty for an invalid number); callers are company lines.
CREATE TABLE call_log (
    call_id        text PRIMARY KEY,
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
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX call_log_callee ON call_log (callee_key, caller_e164, at);
CREATE INDEX call_log_org ON call_log (org_id, at);

-- What the dialer reported after a Check (ReportCallOutcome); may arrive before the recorder has
-- drained the call's event, so it is a table of its own, joined on call_id.
CREATE TABLE call_outcome (
    call_id            text PRIMARY KEY,
    dialled            boolean     NOT NULL,
    connected          boolean     NOT NULL,
    duration_seconds   integer     NOT NULL CHECK (duration_seconds >= 0),
    consumer_opted_out boolean     NOT NULL,
    reported_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id         text
);

-- Stream entries the recorder could not turn into a call_log row (undecodable, or refused by
-- PostgreSQL). They are written in the same transaction as the rest of their batch, before the batch
-- is acknowledged, so one bad entry never blocks the stream and never vanishes unseen. `fields` holds the entry's fields as text
-- (undecodable bytes escaped); like the stream, it holds the callee's keyed hash and mask only.
CREATE TABLE call_dead_letter (
    stream_id   text PRIMARY KEY,
    fields      jsonb       NOT NULL,
    error       text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
