/**
 * Schema version 1: the jobs of SPEC §8 and the idempotency records of its receiving side.
 * Times are ms since the epoch; JSON columns hold what the event frame carries.
 * Never edit a released migration: add the next one to migrations.ts.
 */

/** Statuses that still owe the caller an outcome; `--max-jobs` counts these. */
const UNFINISHED = `('queued', 'running', 'on_hold')`;

export const SCHEMA_V1 = `
CREATE TABLE jobs (
  id                 TEXT    PRIMARY KEY,
  target             TEXT    NOT NULL CHECK (target = 'server' OR target LIKE 'client/_%'),
  verb               TEXT    NOT NULL,
  noun               TEXT    NOT NULL,  -- JSON array of segments
  args               TEXT    NOT NULL,  -- JSON array of strings
  query              TEXT    NOT NULL,  -- JSON array of {"key","values"}, in request order
  mime_type          TEXT    NOT NULL,
  body               BLOB    NOT NULL,
  timeout_ms         INTEGER NOT NULL,
  request_id         TEXT    NOT NULL,
  idempotency_key    TEXT    NOT NULL UNIQUE,
  status             TEXT    NOT NULL CHECK (status IN
                       ('queued', 'running', 'on_hold', 'succeeded', 'failed', 'expired', 'cancelled')),
  attempts           INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL,
  next_attempt_at    INTEGER NOT NULL,
  hold               TEXT,
  result_kind        INTEGER,
  result_status      INTEGER,
  result_return_code INTEGER,
  result_mime_type   TEXT,
  result_body        BLOB
) STRICT;

-- Delivery: the earliest due queued job, and the next time one is due. Each index ends in
-- the id, so that the ORDER BYs (ties broken by id) are read off the index, never sorted.
CREATE INDEX jobs_status_due ON jobs (status, next_attempt_at, id);
-- GET /_rp/jobs?status=S, newest first; and without a status.
CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX jobs_created ON jobs (created_at, id);
-- Expiry of what waits (queued or held). A running job is not expired under its delivery:
-- its outcome is pending, and it expires if it comes back to the queue.
CREATE INDEX jobs_waiting_expiry ON jobs (expires_at) WHERE status IN ('queued', 'on_hold');

-- The unfinished count, kept by triggers in the same transaction as the change, so that
-- --max-jobs is checked in O(1) and exactly, even within one group commit.
CREATE TABLE job_counts (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  unfinished INTEGER NOT NULL
) STRICT;
INSERT INTO job_counts (id, unfinished) VALUES (1, 0);

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs WHEN NEW.status IN ${UNFINISHED}
BEGIN
  UPDATE job_counts SET unfinished = unfinished + 1 WHERE id = 1;
END;

CREATE TRIGGER jobs_count_update AFTER UPDATE OF status ON jobs
  WHEN (OLD.status IN ${UNFINISHED}) <> (NEW.status IN ${UNFINISHED})
BEGIN
  UPDATE job_counts SET unfinished = unfinished + (CASE WHEN NEW.status IN ${UNFINISHED} THEN 1 ELSE -1 END)
  WHERE id = 1;
END;

CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs WHEN OLD.status IN ${UNFINISHED}
BEGIN
  UPDATE job_counts SET unfinished = unfinished - 1 WHERE id = 1;
END;

-- The receiving side's record of each idempotency key, per sending peer.
-- started_by is the boot id of the store that began it: a 'started' key of an earlier
-- boot was running when the node died, and is never run again.
CREATE TABLE idempotency (
  peer              TEXT    NOT NULL,
  key               TEXT    NOT NULL,
  fingerprint       TEXT    NOT NULL,  -- sha256 of verb, noun, args, query and body
  state             TEXT    NOT NULL CHECK (state IN ('started', 'done')),
  started_by        TEXT    NOT NULL,
  reply_kind        INTEGER,
  reply_status      INTEGER,
  reply_return_code INTEGER,
  reply_mime_type   TEXT,
  reply_body        BLOB,
  created_at        INTEGER NOT NULL,
  expires_at        INTEGER NOT NULL,
  PRIMARY KEY (peer, key)
) STRICT;

CREATE INDEX idempotency_expiry ON idempotency (expires_at);
`;
