-- An org's own do-not-call list: a consumer who told one company "don't call me".
--
-- Append-only, keyed by the consumer's keyed hash like the preference and consent journals (never the
-- number); `reason` is free text, masked before it is written. `listed` true is an AddToOrgList, false a
-- RemoveFromOrgList. Its seq comes from journal_seq, which the consent journal shares: between a
-- consent to the org and an entry on its list, the later one in journal order wins (domain/registry.py
-- `org_list_at`, `consents_in_effect`).
CREATE TABLE org_list_journal (
    seq          bigint PRIMARY KEY DEFAULT nextval('journal_seq'),
    consumer_key bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    org_id       text        NOT NULL CHECK (org_id <> ''),
    listed       boolean     NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    effective_at timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    recorded_by  text        NOT NULL CHECK (recorded_by <> ''),
    request_id   text UNIQUE
);
CREATE INDEX org_list_journal_consumer ON org_list_journal (consumer_key, org_id, seq);
CREATE INDEX org_list_journal_recorded ON org_list_journal (recorded_at);
CREATE TRIGGER org_list_journal_append_only BEFORE UPDATE OR DELETE ON org_list_journal
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
