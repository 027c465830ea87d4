-- The registry journal: append-only preference, consent and org-policy changes.
-- consumer_key is HMAC-SHA256(pepper, E.164): the clear number is never stored here.
CREATE SEQUENCE journal_seq;

CREATE TABLE preference_journal (
    seq            bigint PRIMARY KEY DEFAULT nextval('journal_seq'),
    consumer_key   bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    do_not_disturb boolean     NOT NULL,
    categories     integer     NOT NULL,
    source         smallint    NOT NULL,
    effective_from timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id     text UNIQUE
);
CREATE INDEX preference_journal_consumer ON preference_journal (consumer_key, effective_from, seq);

CREATE TABLE consent_journal (
    seq            bigint PRIMARY KEY DEFAULT nextval('journal_seq'),
    consumer_key   bytea       NOT NULL CHECK (octet_length(consumer_key) = 32),
    org_id         text        NOT NULL,
    agent_id       text        NOT NULL DEFAULT '',
    granted        boolean     NOT NULL,
    expires_at     timestamptz,
    evidence       text        NOT NULL DEFAULT '',
    effective_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id     text UNIQUE
);
CREATE INDEX consent_journal_consumer ON consent_journal (consumer_key, org_id, agent_id, effective_at, seq);

CREATE TABLE org_policy_journal (
    seq         bigint PRIMARY KEY DEFAULT nextval('journal_seq'),
    org_id      text        NOT NULL,
    mode        text        NOT NULL CHECK (mode IN ('ENFORCE', 'MONITOR')),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id  text UNIQUE
);
CREATE INDEX org_policy_journal_org ON org_policy_journal (org_id, seq);

-- The journal is append-only: refuse UPDATE and DELETE outright.
CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the registry journal is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER preference_journal_append_only BEFORE UPDATE OR DELETE ON preference_journal
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER consent_journal_append_only BEFORE UPDATE OR DELETE ON consent_journal
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER org_policy_journal_append_only BEFORE UPDATE OR DELETE ON org_policy_journal
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
