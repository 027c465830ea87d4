-- The fingerprint of the pepper the journal's consumer keys were made with: HMAC-SHA256(pepper, a
-- constant), never the pepper. One row, written by the first process to start on this database; a
-- process with another pepper refuses to start instead of reading every number as never registered.
CREATE TABLE pepper_fingerprint (
    only_row    boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    fingerprint text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{32}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER pepper_fingerprint_is_kept BEFORE UPDATE OR DELETE ON pepper_fingerprint
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
