-- Owners, stages and the consumer's sign-off of a case.
--
-- complaints.stage is the stage the case is in now (domain/case.py stage_for: the status decides it,
-- REVISITED comes only from a revisit); complaint_stages is its timeline, append-only like
-- complaint_history. Cases filed before this migration get one timeline entry: the stage their status
-- puts them in, at their created_at, by 'dncgate' (their earlier steps were never recorded).
ALTER TABLE complaints ADD COLUMN stage text NOT NULL DEFAULT 'RECEIVED' CHECK (stage IN ('RECEIVED',
    'VERIFYING', 'RESOLUTION_DRAFTED', 'RESOLVED', 'CONSUMER_CONFIRMED', 'REVISITED'));
UPDATE complaints SET stage = CASE status
    WHEN 'RECEIVED' THEN 'RECEIVED'
    WHEN 'MANUAL_REVIEW' THEN 'VERIFYING'
    WHEN 'REOPENED' THEN 'VERIFYING'
    WHEN 'VERIFIED' THEN 'RESOLUTION_DRAFTED'
    WHEN 'PARTIALLY_VERIFIED' THEN 'RESOLUTION_DRAFTED'
    WHEN 'CLOSED' THEN 'CONSUMER_CONFIRMED'
    ELSE 'RESOLVED' -- REJECTED, ALREADY_COMPENSATED, PAID
END;

CREATE TABLE complaint_stages (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id text        NOT NULL REFERENCES complaints (case_id),
    stage   text        NOT NULL,
    at      timestamptz NOT NULL,
    actor   text        NOT NULL CHECK (actor <> '')
);
CREATE INDEX complaint_stages_case ON complaint_stages (case_id, seq);
CREATE TRIGGER complaint_stages_append_only BEFORE UPDATE OR DELETE ON complaint_stages
    FOR EACH ROW EXECUTE FUNCTION complaint_history_is_append_only();
INSERT INTO complaint_stages (case_id, stage, at, actor)
    SELECT case_id, stage, created_at, 'dncgate' FROM complaints ORDER BY seq;

-- The operator in charge (a principal's name); '' on cases filed before owners were recorded.
ALTER TABLE complaints ADD COLUMN assignee text NOT NULL DEFAULT '';
CREATE INDEX complaints_assignee ON complaints (assignee, seq);
CREATE INDEX complaints_stage ON complaints (stage, seq);

-- The consumer's sign-off (ConfirmResolution), the last one given: resolved is NULL until she answered.
ALTER TABLE complaints ADD COLUMN resolved boolean;
ALTER TABLE complaints ADD COLUMN satisfaction smallint NOT NULL DEFAULT 0 CHECK (satisfaction BETWEEN 0 AND 5);
ALTER TABLE complaints ADD COLUMN remaining_issue text NOT NULL DEFAULT '';

-- The hotline's queue: who takes new cases. Round-robin gives a new case to the available operator
-- (with a live hotline or supervisor token of that name) whose last_turn is oldest (NULL first, then
-- by name), under an advisory lock held by the filing transaction, and stamps last_turn from
-- operator_turns: concurrent filings take their turns one after another.
CREATE SEQUENCE operator_turns;
CREATE TABLE operators (
    name           text        PRIMARY KEY,
    available      boolean     NOT NULL,
    updated_at     timestamptz NOT NULL,
    updated_by     text        NOT NULL CHECK (updated_by <> ''),
    last_turn      bigint,
    assigned_count bigint      NOT NULL DEFAULT 0
);
