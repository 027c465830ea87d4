-- Who may call what: bearer tokens and client-certificate subjects, each with roles and orgs.
-- A token's secret is never stored: secret_hash is HMAC-SHA256 keyed from the pepper (service/access.py),
-- so a row copied from another deployment verifies nothing here.
CREATE SEQUENCE api_tokens_version;

CREATE TABLE api_tokens (
    id          text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9]{1,64}$'),
    kind        text        NOT NULL CHECK (kind IN ('token', 'certificate')),
    name        text        NOT NULL,
    -- A certificate's subject (RFC 4514), matched against the client certificate's; '' for a token.
    subject     text        NOT NULL DEFAULT '',
    secret_hash bytea       CHECK (octet_length(secret_hash) = 32),
    roles       text[]      NOT NULL CHECK (cardinality(roles) > 0),
    -- Empty: every org.
    orgs        text[]      NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    created_by  text        NOT NULL,
    revoked_by  text,
    -- Bumped by every insert and update: replicas poll max(version) to see a change within a second.
    version     bigint      NOT NULL DEFAULT nextval('api_tokens_version'),
    CHECK ((kind = 'token') = (secret_hash IS NOT NULL)),
    CHECK ((kind = 'certificate') = (subject <> ''))
);
CREATE UNIQUE INDEX api_tokens_live_subject ON api_tokens (subject) WHERE kind = 'certificate' AND revoked_at IS NULL;

CREATE FUNCTION api_tokens_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'tokens are revoked, never deleted (%)', OLD.id;
    END IF;
    NEW.version := nextval('api_tokens_version');
    RETURN NEW;
END $$;
CREATE TRIGGER api_tokens_version BEFORE UPDATE OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION api_tokens_bump_version();

-- Who made each change: the authenticated principal ("name (token id)" or "subject (certificate id)").
-- '' on rows written before access control existed; every row written from now on names someone. The
-- checks are NOT VALID: they hold for new and changed rows and leave the older rows as they are.
ALTER TABLE preference_journal ADD COLUMN recorded_by text NOT NULL DEFAULT '';
ALTER TABLE consent_journal ADD COLUMN recorded_by text NOT NULL DEFAULT '';
ALTER TABLE org_policy_journal ADD COLUMN recorded_by text NOT NULL DEFAULT '';
ALTER TABLE preference_journal ADD CONSTRAINT preference_journal_recorded_by CHECK (recorded_by <> '') NOT VALID;
ALTER TABLE consent_journal ADD CONSTRAINT consent_journal_recorded_by CHECK (recorded_by <> '') NOT VALID;
ALTER TABLE org_policy_journal ADD CONSTRAINT org_policy_journal_recorded_by CHECK (recorded_by <> '') NOT VALID;
-- Set with PENDING -> PAID (the ledger trigger of 0003 leaves it out of the frozen columns): a paid
-- payout names who marked it, a pending one nobody. NULL on payouts paid before access control.
ALTER TABLE payouts ADD COLUMN paid_by text;
ALTER TABLE payouts ADD CONSTRAINT payouts_paid_by CHECK ((status = 'PAID') = (coalesce(paid_by, '') <> '')) NOT VALID;
