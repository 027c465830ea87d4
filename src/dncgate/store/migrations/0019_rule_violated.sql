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
