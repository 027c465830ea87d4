-- Caller lines: which org and agent a company's outbound line belonged to, over time.
--
-- An append-only journal (Registry.RegisterCallerLine): the line caller_e164 is (org_id, agent_id)'s
-- for [valid_from, valid_to), valid_to NULL meaning open-ended; agent_id '' is the org's line, no one
-- agent's. A later row for the same line and owner that overlaps an earlier one supersedes it (how an
-- assignment is ended or corrected); an overlap with another owner's live row is refused by the
-- registration, under a per-line advisory lock (see domain/lines.py). Company lines, not consumer
-- numbers: stored in clear, as the call log stores caller numbers.
CREATE TABLE caller_lines (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    caller_e164 text        NOT NULL CHECK (caller_e164 ~ '^\+[1-9][0-9]{1,14}$'),
    org_id      text        NOT NULL CHECK (org_id <> ''),
    agent_id    text        NOT NULL DEFAULT '',
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz CHECK (valid_to IS NULL OR valid_to > valid_from),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    recorded_by text        NOT NULL CHECK (recorded_by <> ''),
    request_id  text UNIQUE
);
-- "Whose line was X at T": every row of the line (the fold needs them all to know which are live).
CREATE INDEX caller_lines_number ON caller_lines (caller_e164, seq);
CREATE INDEX caller_lines_org ON caller_lines (org_id, seq);
CREATE TRIGGER caller_lines_append_only BEFORE UPDATE OR DELETE ON caller_lines
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- A complaint's caller with no Check on record but a registered line: CALLED_OUTSIDE_GATEWAY (paid
-- like VERIFIED), and the line's org and agent named on the finding (also on NOT_REGISTERED_AT_CALL_TIME,
-- CONSENT_ON_FILE and ALREADY_COMPENSATED findings reached through the line; '' otherwise).
ALTER TABLE complaint_findings DROP CONSTRAINT complaint_findings_verdict_check;
ALTER TABLE complaint_findings ADD CONSTRAINT complaint_findings_verdict_check CHECK (verdict IN (
    'VERIFIED', 'NO_MATCHING_CALL', 'CONSENT_ON_FILE', 'NOT_REGISTERED_AT_CALL_TIME', 'ALREADY_COMPENSATED',
    'CALLED_OUTSIDE_GATEWAY'));
ALTER TABLE complaint_findings ADD COLUMN org_id text NOT NULL DEFAULT '';
ALTER TABLE complaint_findings ADD COLUMN agent_id text NOT NULL DEFAULT '';
-- ReportViolations: an org's calls outside the gateway, by the complaint's time (its window's end).
CREATE INDEX complaint_findings_outside_gateway ON complaint_findings (org_id)
    WHERE verdict = 'CALLED_OUTSIDE_GATEWAY';
