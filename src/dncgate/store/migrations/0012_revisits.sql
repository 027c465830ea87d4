-- Revisits: a closed case is visited again DNCGATE_REVISIT_DAYS after it closed, to ask whether the
-- calls came back.
--
-- complaints.closed_at is when the case last closed (ConfirmResolution, resolved), revisit_due when its
-- revisit is due (closed_at + DNCGATE_REVISIT_DAYS, fixed when it closes). A case closed before this
-- migration has neither: no revisit was promised when it closed (as payouts booked before 0006 have no
-- due date), and its close time is read from its timeline only for the backfill of closed_at.
ALTER TABLE complaints ADD COLUMN closed_at timestamptz;
ALTER TABLE complaints ADD COLUMN revisit_due timestamptz;
UPDATE complaints c SET closed_at = (
    SELECT max(s.at) FROM complaint_stages s WHERE s.case_id = c.case_id AND s.stage = 'CONSUMER_CONFIRMED'
) WHERE c.status = 'CLOSED';
CREATE INDEX complaints_revisit_clock ON complaints (revisit_due) WHERE revisit_due IS NOT NULL;

-- A case opened because a revisit found that the problem recurred names the case it recurs from.
ALTER TABLE complaints ADD COLUMN recurrence_of text REFERENCES complaints (case_id);

-- One revisit per case (RecordRevisit), append-only: who asked, when, whether it recurred, her rating
-- (1-5, 0 when she gave none), a note (masked like all free text) and the case opened for a recurrence.
CREATE TABLE complaint_revisits (
    case_id            text        PRIMARY KEY REFERENCES complaints (case_id),
    at                 timestamptz NOT NULL,
    actor              text        NOT NULL CHECK (actor <> ''),
    recurred           boolean     NOT NULL,
    rating             smallint    NOT NULL CHECK (rating BETWEEN 0 AND 5),
    note               text        NOT NULL DEFAULT '',
    recurrence_case_id text        REFERENCES complaints (case_id),
    CHECK (recurred = (recurrence_case_id IS NOT NULL))
);
CREATE INDEX complaint_revisits_at ON complaint_revisits (at);
CREATE TRIGGER complaint_revisits_append_only BEFORE UPDATE OR DELETE ON complaint_revisits
    FOR EACH ROW EXECUTE FUNCTION complaint_history_is_append_only();

-- The append-only function of 0011, knowing the revisits' text column (`note`) for an erasure.
CREATE OR REPLACE FUNCTION complaint_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    text_column text := CASE TG_TABLE_NAME
        WHEN 'complaint_history' THEN 'note' WHEN 'complaint_revisits' THEN 'note' ELSE 'text' END;
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('dncgate.erasure', true) = 'on'
       AND (to_jsonb(NEW) - text_column) = (to_jsonb(OLD) - text_column) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'complaint history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
