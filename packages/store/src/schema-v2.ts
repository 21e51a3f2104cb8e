/**
 * Schema version 2: delivery reads the due jobs of one peer at a time (the peer that just
 * connected, say). Version 1's due index starts with the status, so a peer with few jobs
 * behind an offline peer with 100,000 would scan them all; this one starts with the target.
 */
export const SCHEMA_V2 = `
CREATE INDEX jobs_target_due ON jobs (target, status, next_attempt_at, id);
`;
