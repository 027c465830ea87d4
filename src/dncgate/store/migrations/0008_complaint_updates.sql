-- Progress a principal records on a case (AddComplaintUpdate) and the extensions of its resolution
-- due time (ExtendComplaint), append-only like complaint_history. The text is masked (phone numbers)
-- before it is stored. complaints.last_visible_update_at is the latest consumer-visible one: the
-- next update is due DNCGATE_UPDATE_HOURS after it (after created_at while there is none).
CREATE TABLE complaint_updates (
    seq                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id                 text        NOT NULL REFERENCES complaints (case_id),
    at                      timestamptz NOT NULL,
    author                  text        NOT NULL,
    kind                    text        NOT NULL CHECK (kind IN ('PROGRESS', 'EXTENSION')),
    text                    text        NOT NULL,
    visible_to_consumer     boolean     NOT NULL,
    previous_resolution_due timestamptz,
    new_resolution_due      timestamptz,
    CHECK (kind = 'PROGRESS' OR (visible_to_consumer AND new_resolution_due > previous_resolution_due))
);
CREATE INDEX complaint_updates_case ON complaint_updates (case_id, seq);
CREATE TRIGGER complaint_updates_append_only BEFORE UPDATE OR DELETE ON complaint_updates
    FOR EACH ROW EXECUTE FUNCTION complaint_history_is_append_only();

ALTER TABLE complaints ADD COLUMN last_visible_update_at timestamptz;
CREATE INDEX complaints_update_clock ON complaints ((COALESCE(last_visible_update_at, created_at)))
    WHERE status <> 'CLOSED';
