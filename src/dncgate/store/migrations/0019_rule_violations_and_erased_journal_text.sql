-- A complaint's caller whose placed calls broke a rule beyond her registration (a frequency cap, a
-- quiet day, a number range, calling hours, an unknown caller line, opt-in) but neither her
-- do-not-disturb nor the org's own list: RULE_VIOLATED, a violation that pays nothing. rules_broken
-- names those rules (the reasons the Check logged for the calls), distinct, in the Check's precedence.
ALTER TABLE complaint_findings DROP CONSTRAINT complaint_findings_verdict_check;
ALTER TABLE complaint_findings ADD CONSTRAINT complaint_findings_verdict_check CHECK (verdict IN (
    'VERIFIED', 'NO_MATCHING_CALL', 'CONSENT_ON_FILE', 'NOT_REGISTERED_AT_CALL_TIME', 'ALREADY_COMPENSATED',
    'CALLED_OUTSIDE_GATEWAY', 'RULE_VIOLATED'));
ALTER TABLE complaint_findings ADD COLUMN rules_broken text[] NOT NULL DEFAULT '{}';
ALTER TABLE complaint_findings ADD CONSTRAINT complaint_findings_rules_broken_check
    CHECK (verdict = 'RULE_VIOLATED' OR rules_broken = '{}');
-- ReportViolations: the RULE_VIOLATED findings resting on an org's calls (as the VERIFIED ones).
CREATE INDEX complaint_findings_rule_violated_calls ON complaint_findings USING gin (call_ids)
    WHERE verdict = 'RULE_VIOLATED';

-- ForgetConsumer erases her mask from the free text of her own journal rows, picked by her keyed hash
-- as the call log's callee_masked is: a consent's evidence and an org-list entry's reason (both masked
-- when written, so her number can be in them only as her mask). Every other column stays, so her
-- entries bind as before (an org-list entry keeps that org from calling her, a consent keeps its
-- effect). The journal trigger of 0001 lets the erasure's transaction (`dncgate.erasure` on, as in 0011)
-- rewrite that one column of those two journals, and refuses every other change as before.
CREATE OR REPLACE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    text_column text := CASE TG_TABLE_NAME WHEN 'consent_journal' THEN 'evidence'
                                           WHEN 'org_list_journal' THEN 'reason' END;
BEGIN
    IF TG_OP = 'UPDATE' AND text_column IS NOT NULL AND current_setting('dncgate.erasure', true) = 'on'
       AND (to_jsonb(NEW) - text_column) = (to_jsonb(OLD) - text_column) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the registry journal is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
