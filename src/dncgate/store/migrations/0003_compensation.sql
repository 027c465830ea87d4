-- Complaints, their findings and append-only history, and the payout ledger.
-- consumer_key is HMAC-SHA256(pepper, E.164); the consumer's reachable number exists only sealed with
-- AES-GCM (complaints.consumer_sealed, payouts.consumer_sealed), and masked for display. Caller numbers are the company's own lines and are kept in clear.
CREATE SEQUENCE complaint_seq;

CREATE TABLE complaints (
    case_id            text PRIMARY KEY,
    seq                bigint      NOT NULL UNIQUE,
    consumer_key       bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    consumer_masked    text        NOT NULL,
    -- The consumer's number sealed with AES-GCM (context: case_id), for payouts a review books later.
    consumer_sealed    bytea       NOT NULL,
    channel            text        NOT NULL CHECK (channel IN ('HOTLINE', 'APP', 'REGULATOR')),
    description        text        NOT NULL DEFAULT '',
    occurred_after     timestamptz NOT NULL,
    occurred_before    timestamptz NOT NULL CHECK (occurred_after <= occurred_before),
    status             text        NOT NULL CHECK (status IN ('RECEIVED', 'VERIFIED', 'PARTIALLY_VERIFIED',
                                       'REJECTED', 'MANUAL_REVIEW', 'PAID', 'CLOSED', 'REOPENED')),
    total_minor        bigint      NOT NULL DEFAULT 0 CHECK (total_minor >= 0),
    currency           text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at         timestamptz NOT NULL,
    first_response_due timestamptz NOT NULL,
    resolution_due     timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    request_id         text UNIQUE
);
CREATE INDEX complaints_consumer ON complaints (consumer_key, seq);
CREATE INDEX complaints_status ON complaints (status, seq);
CREATE INDEX complaints_resolution_due ON complaints (resolution_due);

-- One row per distinct caller number of a complaint. A review may turn CONSENT_ON_FILE into VERIFIED
-- (or ALREADY_COMPENSATED); complaint_history keeps the record of that.
CREATE TABLE complaint_findings (
    case_id       text     NOT NULL REFERENCES complaints (case_id),
    position      smallint NOT NULL,
    caller_number text     NOT NULL,
    verdict       text     NOT NULL CHECK (verdict IN ('VERIFIED', 'NO_MATCHING_CALL', 'CONSENT_ON_FILE',
                               'NOT_REGISTERED_AT_CALL_TIME', 'ALREADY_COMPENSATED')),
    call_ids      text[]   NOT NULL DEFAULT '{}',
    payout_id     text     NOT NULL DEFAULT '',
    amount_minor  bigint   NOT NULL DEFAULT 0 CHECK (amount_minor >= 0),
    currency      text     NOT NULL,
    PRIMARY KEY (case_id, position)
);
CREATE INDEX complaint_findings_verified_calls ON complaint_findings USING gin (call_ids)
    WHERE verdict = 'VERIFIED';

CREATE TABLE complaint_history (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id text        NOT NULL REFERENCES complaints (case_id),
    at      timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    note    text        NOT NULL DEFAULT ''
);
CREATE INDEX complaint_history_case ON complaint_history (case_id, seq);

CREATE FUNCTION complaint_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'complaint history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER complaint_history_append_only BEFORE UPDATE OR DELETE ON complaint_history
    FOR EACH ROW EXECUTE FUNCTION complaint_history_is_append_only();

-- The ledger: one payout per (consumer, caller number) ever. The UNIQUE constraint, not a check in
-- Python, is what makes a second payout for the same pair impossible, however many operators file.
CREATE TABLE payouts (
    payout_id         text PRIMARY KEY,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    consumer_key      bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    caller_e164       text        NOT NULL,
    case_id           text        NOT NULL REFERENCES complaints (case_id),
    consumer_masked   text        NOT NULL,
    consumer_sealed   bytea       NOT NULL,
    amount_minor      bigint      NOT NULL CHECK (amount_minor > 0),
    currency          text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status            text        NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'PAID')),
    created_at        timestamptz NOT NULL,
    paid_at           timestamptz,
    payment_reference text,
    CONSTRAINT payouts_once_per_consumer_and_caller UNIQUE (consumer_key, caller_e164),
    CHECK ((status = 'PAID') = (paid_at IS NOT NULL AND payment_reference IS NOT NULL))
);
CREATE INDEX payouts_case ON payouts (case_id);
CREATE INDEX payouts_created ON payouts (created_at);
CREATE INDEX payouts_paid ON payouts (paid_at) WHERE status = 'PAID';

-- A booked payout is never deleted or re-priced; the only change allowed is PENDING -> PAID.
CREATE FUNCTION payouts_only_get_paid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payouts are never deleted (%)', OLD.payout_id;
    END IF;
    IF OLD.status <> 'PENDING' OR NEW.status <> 'PAID'
       OR (NEW.payout_id, NEW.seq, NEW.consumer_key, NEW.caller_e164, NEW.case_id, NEW.consumer_masked,
           NEW.consumer_sealed, NEW.amount_minor, NEW.currency, NEW.created_at)
          IS DISTINCT FROM
          (OLD.payout_id, OLD.seq, OLD.consumer_key, OLD.caller_e164, OLD.case_id, OLD.consumer_masked,
           OLD.consumer_sealed, OLD.amount_minor, OLD.currency, OLD.created_at) THEN
        RAISE EXCEPTION 'a payout can only go from PENDING to PAID (%)', OLD.payout_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payouts_ledger BEFORE UPDATE OR DELETE ON payouts
    FOR EACH ROW EXECUTE FUNCTION payouts_only_get_paid();

-- request_ids of ConfirmResolution, ReviewComplaint and MarkPayoutPaid: the same id again replays.
CREATE TABLE compensation_requests (
    request_id  text PRIMARY KEY,
    method      text        NOT NULL,
    subject     text        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
