-- Opt-in (issue 13, REASON_NO_CONSENT): two more org policy fields. consent_required: a call is allowed
-- only with a consent in force; consent_required_categories: the categories it binds, as a preference
-- mask, 0 for none named (every category). Entries written before read false (the rule did not exist).
ALTER TABLE org_policy_journal ADD COLUMN consent_required boolean NOT NULL DEFAULT false;
ALTER TABLE org_policy_journal ADD COLUMN consent_required_categories integer NOT NULL DEFAULT 0
    CHECK (consent_required_categories >= 0);
