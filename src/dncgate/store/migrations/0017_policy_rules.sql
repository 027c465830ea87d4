-- Number ranges, quiet days and registered lines (issue 13).
--
-- Range rules: an append-only journal (Registry.SetRangeRule). A prefix in E.164 digits form, the org
-- it binds ('' = every org), the action ('NONE' clears the prefix's rule for that org from
-- effective_from on), the categories as a preference mask (every category when none is named) and
-- when it takes effect. Per (prefix, org) the latest entry whose effective_from has come is in force;
-- the longest prefix in force wins (domain/ranges.py). Company policy, no consumer number: in clear.
CREATE TABLE range_rules (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix         text        NOT NULL CHECK (prefix ~ '^\+[1-9][0-9]{0,14}$'),
    org_id         text        NOT NULL DEFAULT '',
    action         text        NOT NULL CHECK (action IN ('NONE', 'BLOCK', 'ALLOW')),
    categories     integer     NOT NULL,
    effective_from timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    recorded_by    text        NOT NULL CHECK (recorded_by <> ''),
    request_id     text UNIQUE
);
CREATE INDEX range_rules_org ON range_rules (org_id, seq);
CREATE TRIGGER range_rules_append_only BEFORE UPDATE OR DELETE ON range_rules
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- Two more org policy fields; entries written before read false (the rules did not exist).
ALTER TABLE org_policy_journal ADD COLUMN quiet_on_public_holidays boolean NOT NULL DEFAULT false;
ALTER TABLE org_policy_journal ADD COLUMN require_registered_lines boolean NOT NULL DEFAULT false;
