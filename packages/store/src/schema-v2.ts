/**
 * Schema version 2: delivery reads the due jobs of one peer at a time (the peer that just
 * connected, say). Version 1's due index starts with the status, so a peer with few jobs
 * behind an offline peer with 100,000 would scan them all; this one starts with the target.
 * And the lists need no index of their own on created_at.
 */
export const SCHEMA_V2 = `
CREATE INDEX jobs_target_due ON jobs (target, status, next_attempt_at, id);
-- Ids sort as the jobs were made (monotonic ULIDs): newest first is the primary key read
-- backwards, and by status an index of (status, id). Two indexes fewer to update per insert.
DROP INDEX jobs_created;
DROP INDEX jobs_status_created;
CREATE INDEX jobs_status_id ON jobs (status, id);
`;
