-- Working-day deadlines of regulator and major cases, and a consumer's erasure (ForgetConsumer).
--
-- A CHANNEL_REGULATOR case is due a reply to the regulator DNCGATE_REGULATOR_REPLY_WORKDAYS working
-- days after filing; a major case (escalated at filing or later, major_since) is due a progress
-- statement DNCGATE_MAJOR_PROGRESS_WORKDAYS working days after it became major. Both due times are
-- counted in Python on China's calendar (calendars.py) and written once; the *_at columns record the
-- first REGULATOR_REPLY and PROGRESS_STATEMENT update. Cases from before this migration keep NULL:
-- no such deadline was set when they were filed.
ALTER TABLE complaints
    ADD COLUMN major_since            timestamptz,
    ADD COLUMN regulator_reply_due    timestamptz,
    ADD COLUMN regulator_replied_at   timestamptz,
    ADD COLUMN progress_statement_due timestamptz,
    ADD COLUMN progress_statement_at  timestamptz,
    ADD CONSTRAINT complaints_regulator_reply CHECK (regulator_reply_due IS NULL OR channel = 'REGULATOR'),
    ADD CONSTRAINT complaints_major CHECK ((major_since IS NULL) = (progress_statement_due IS NULL));
CREATE INDEX complaints_regulator_reply_due ON complaints (regulator_reply_due)
    WHERE regulator_reply_due IS NOT NULL AND regulator_replied_at IS NULL;

-- Two more kinds of update: the company's reply to the regulator (visible to the consumer only if
-- the author says so) and a major case's progress statement (always visible).
ALTER TABLE complaint_updates DROP CONSTRAINT complaint_updates_kind_check;
ALTER TABLE complaint_updates DROP CONSTRAINT complaint_updates_check;
ALTER TABLE complaint_updates ADD CONSTRAINT complaint_updates_kind_check
    CHECK (kind IN ('PROGRESS', 'EXTENSION', 'REGULATOR_REPLY', 'PROGRESS_STATEMENT'));
ALTER TABLE complaint_updates ADD CONSTRAINT complaint_updates_check
    CHECK (kind IN ('PROGRESS', 'REGULATOR_REPLY')
           OR (kind = 'PROGRESS_STATEMENT' AND visible_to_consumer)
           OR (kind = 'EXTENSION' AND visible_to_consumer AND new_resolution_due > previous_resolution_due));

-- Erasure destroys the sealed number (crypto-shredding: the ciphertext is dropped; the key is shared,
-- so dropping the ciphertext is what makes the number unrecoverable). Only ForgetConsumer writes NULL.
ALTER TABLE complaints ALTER COLUMN consumer_sealed DROP NOT NULL;
ALTER TABLE payouts ALTER COLUMN consumer_sealed DROP NOT NULL;

-- The erasure's transaction sets the transaction-local `dncgate.erasure` to 'on' (set_config(..., true));
-- the append-only triggers then let it rewrite the masked text of a row, and nothing else of it. This
-- guards against mistakes, not against a database owner, who could drop the trigger as well.
CREATE OR REPLACE FUNCTION complaint_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    text_column text := CASE TG_TABLE_NAME WHEN 'complaint_history' THEN 'note' ELSE 'text' END;
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('dncgate.erasure', true) = 'on'
       AND (to_jsonb(NEW) - text_column) = (to_jsonb(OLD) - text_column) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'complaint history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;

-- The ledger trigger of 0006, with the erasure's one change: a PAID payout's sealed number dropped, its
-- mask replaced and her mask erased from its payment reference, every other column unchanged. A pending
-- payout is never erased (it must be paid first).
CREATE OR REPLACE FUNCTION payouts_only_get_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payouts are never deleted (%)', OLD.payout_id;
    END IF;
    IF current_setting('dncgate.erasure', true) = 'on' THEN
        IF OLD.status = 'PAID' AND NEW.consumer_sealed IS NULL
           AND (to_jsonb(NEW) - 'consumer_sealed' - 'consumer_masked' - 'payment_reference')
               = (to_jsonb(OLD) - 'consumer_sealed' - 'consumer_masked' - 'payment_reference') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'an erasure only drops a paid payout''s sealed number and masks (%)', OLD.payout_id;
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

-- One row per ForgetConsumer: who, when, whose keyed hash, and what was erased; never changed or
-- deleted, so the act is auditable without the number.
CREATE TABLE erasures (
    erasure_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id          text        UNIQUE,
    at                  timestamptz NOT NULL,
    actor               text        NOT NULL,
    consumer_key        bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    complaints_erased   integer     NOT NULL CHECK (complaints_erased >= 0),
    payouts_erased      integer     NOT NULL CHECK (payouts_erased >= 0),
    calls_masked        integer     NOT NULL CHECK (calls_masked >= 0),
    texts_rewritten     integer     NOT NULL CHECK (texts_rewritten >= 0)
);
CREATE INDEX erasures_consumer ON erasures (consumer_key);

CREATE FUNCTION erasures_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'erasures are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION erasures_are_append_only();
