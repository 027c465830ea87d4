-- Signed receipts per org (issue 13): each policy entry holds the org's whole policy, so the policy
-- in force at a time stays the latest entry before it. Rows written before this column read false,
-- which is what they meant: receipts did not exist.
ALTER TABLE org_policy_journal ADD COLUMN signed_receipts boolean NOT NULL DEFAULT false;
