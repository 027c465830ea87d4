-- When each payout must be paid by: the end of the Nth working day (China's calendar, Beijing time)
-- after the day it was booked, N = DNCGATE_PAYOUT_DUE_WORKDAYS at booking. Counted in Python
-- (calendars.py), so the column is written by the booking, never derived here.
--
-- Payouts booked before this migration keep NULL: no due date was promised when they were booked,
-- and the holiday calendar their deadline would depend on is not in SQL. Inventing one
-- (created_at + 7 days, say) would put a date in the ledger nobody set, and a due date, once set, is
-- frozen (below). An operator who wants the old payouts in the overdue report records a date for
-- them explicitly: `UPDATE payouts SET due_at = ... WHERE due_at IS NULL` is allowed once per row.
-- Every payout booked from now on has one: an INSERT trigger, not a CHECK, because a NOT VALID CHECK
-- would also refuse every later UPDATE of an older row (marking it paid).
ALTER TABLE payouts ADD COLUMN due_at timestamptz;

CREATE FUNCTION payouts_are_booked_with_a_due_date() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.due_at IS NULL THEN
        RAISE EXCEPTION 'a payout is booked with its due date (%)', NEW.payout_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payouts_due_date BEFORE INSERT ON payouts
    FOR EACH ROW EXECUTE FUNCTION payouts_are_booked_with_a_due_date();

-- The overdue listing and the fund summary's overdue figures: pending payouts past their due time.
CREATE INDEX payouts_pending_due ON payouts (due_at) WHERE status = 'PENDING';

-- The ledger trigger of 0003, with due_at frozen too: a booked payout is never deleted or re-priced,
-- and the only changes allowed are PENDING -> PAID, and recording the due date of a payout that has
-- none (a row from before this migration), each with every other column unchanged.
CREATE OR REPLACE FUNCTION payouts_only_get_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payouts are never deleted (%)', OLD.payout_id;
    END IF;
    IF (NEW.payout_id, NEW.seq, NEW.consumer_key, NEW.caller_e164, NEW.case_id, NEW.consumer_masked,
        NEW.consumer_sealed, NEW.amount_minor, NEW.currency, NEW.created_at)
       IS DISTINCT FROM
       (OLD.payout_id, OLD.seq, OLD.consumer_key, OLD.caller_e164, OLD.case_id, OLD.consumer_masked,
        OLD.consumer_sealed, OLD.amount_minor, OLD.currency, OLD.created_at) THEN
        RAISE EXCEPTION 'a payout can only go from PENDING to PAID (%)', OLD.payout_id;
    END IF;
    IF OLD.due_at IS NULL AND NEW.due_at IS NOT NULL THEN
        -- Recording a missing due date: nothing else may change with it.
        IF (NEW.status, NEW.paid_at, NEW.payment_reference, NEW.paid_by)
           IS DISTINCT FROM (OLD.status, OLD.paid_at, OLD.payment_reference, OLD.paid_by) THEN
            RAISE EXCEPTION 'a missing due date is recorded on its own, not with a payment (%)', OLD.payout_id;
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.due_at IS DISTINCT FROM OLD.due_at THEN
        RAISE EXCEPTION 'a payout''s due date, once set, never changes (%)', OLD.payout_id;
    END IF;
    IF OLD.status <> 'PENDING' OR NEW.status <> 'PAID' THEN
        RAISE EXCEPTION 'a payout can only go from PENDING to PAID (%)', OLD.payout_id;
    END IF;
    RETURN NEW;
END $$;
