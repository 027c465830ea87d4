-- A case filed again for numbers already compensated gets a status of its own, ALREADY_COMPENSATED
-- (it links to the paying case through its findings' payout_id: payouts.case_id, which never changes).
-- A CONSENT_ON_FILE finding keeps the evidence of the consent in force at the calls: copied from
-- consent_journal.evidence, which was masked (phone numbers) when it was recorded.
ALTER TABLE complaints DROP CONSTRAINT complaints_status_check;
ALTER TABLE complaints ADD CONSTRAINT complaints_status_check
    CHECK (status IN ('RECEIVED', 'VERIFIED', 'PARTIALLY_VERIFIED', 'REJECTED', 'MANUAL_REVIEW', 'PAID', 'CLOSED',
                      'REOPENED', 'ALREADY_COMPENSATED'));

ALTER TABLE complaint_findings ADD COLUMN consent_evidence text NOT NULL DEFAULT '';
