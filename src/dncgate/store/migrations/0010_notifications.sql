-- The outbox of consumer notices: each row is written in the transaction of the change it tells of
-- (filing, a visible update, an extension, a verdict, a payment, a revisit), and delivered later by
-- the sender loop, at least once. notification_id is derived from the event (domain/notices.py), so
-- a retried request finds its notice there instead of adding a second one. The text is rendered
-- Chinese with masked numbers only; the destination is the consumer's number sealed with the
-- notification_id as context, NULL once the consumer's data is erased.
CREATE TABLE notifications (
    notification_id    text PRIMARY KEY,
    seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    case_id            text        NOT NULL REFERENCES complaints (case_id),
    kind               text        NOT NULL
        CHECK (kind IN ('ACCEPTED', 'UPDATE', 'VERDICT', 'PAYOUT_PAID', 'EXTENSION', 'REVISIT')),
    text               text        NOT NULL,
    destination_masked text        NOT NULL,
    destination_sealed bytea,
    created_at         timestamptz NOT NULL,
    delivered_at       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error         text        NOT NULL DEFAULT '',
    next_attempt_at    timestamptz NOT NULL
);
CREATE INDEX notifications_case ON notifications (case_id, seq);
-- What the sender loop claims: the undelivered rows, oldest first.
CREATE INDEX notifications_undelivered ON notifications (seq) WHERE delivered_at IS NULL;

-- A notice is never deleted, and what it says never changes: only the delivery bookkeeping
-- (delivered_at, attempts, last_error, next_attempt_at) moves, and the sealed destination may be erased.
-- A consumer's erasure (its transaction sets `dncgate.erasure` to 'on', see migration 0011) may also
-- rewrite her mask in the text and the masked destination.
CREATE FUNCTION notifications_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'notifications are never deleted';
    END IF;
    IF NEW.notification_id IS DISTINCT FROM OLD.notification_id OR NEW.seq IS DISTINCT FROM OLD.seq
       OR NEW.case_id IS DISTINCT FROM OLD.case_id OR NEW.kind IS DISTINCT FROM OLD.kind
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
