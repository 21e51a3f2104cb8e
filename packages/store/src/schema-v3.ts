/**
 * Schema version 3: a job's request body moves to a table of its own. A status change
 * rewrites the job's row, and with the body in it every change of a 1 MiB job wrote 1 MiB
 * more to the WAL: on a disk near full, jobs already accepted could no longer start.
 */
export const SCHEMA_V3 = `
CREATE TABLE job_bodies (
  id   TEXT PRIMARY KEY,
  body BLOB NOT NULL
) STRICT;
INSERT INTO job_bodies (id, body) SELECT id, body FROM jobs;
ALTER TABLE jobs DROP COLUMN body;
CREATE TRIGGER jobs_bodies_delete AFTER DELETE ON jobs
BEGIN
  DELETE FROM job_bodies WHERE id = OLD.id;
END;
`;
