-- Frequency caps (issue 13): an org's own daily cap per consumer, lower than the caps across orgs
-- (DNCGATE_CAP_PER_DAY, DNCGATE_CAP_PER_WEEK). Each policy entry holds the org's whole policy; rows
-- written before this column read 0, which is what they meant: no cap of the org's own. The counts
-- themselves live in Redis keys that expire (store/checkscript.py), never here.
ALTER TABLE org_policy_journal ADD COLUMN max_calls_per_day integer NOT NULL DEFAULT 0
    CHECK (max_calls_per_day >= 0);

-- A consent whose calls neither count nor are held to the caps (GrantConsentRequest.exempt_from_caps).
-- Grants written before this column read false: they counted, as every call did.
ALTER TABLE consent_journal ADD COLUMN exempt_from_caps boolean NOT NULL DEFAULT false;
