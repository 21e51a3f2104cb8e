/**
 * Schema version 4: the approval holds of SPEC §9.
 *
 * The receiving node keeps the held event as a row of `holds` until someone decides, the
 * hold expires, and the sender has fetched the outcome. As in version 3, the request body
 * lives in a table of its own: a hold changes a few times (announced, decided, outcome,
 * collected), and with a 1 MiB body in its row every change would write 1 MiB more to the
 * WAL, past the disk's reserve.
 *
 * The sending node's job waits in `on_hold`: it learns the hold's reason and expiry, and
 * is released by hold id when the outcome comes back.
 */
export const SCHEMA_V4 = `
CREATE TABLE holds (
  id                 TEXT    PRIMARY KEY,
  peer               TEXT    NOT NULL CHECK (peer <> ''),  -- the sending peer's name
  status             TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
  verb               TEXT    NOT NULL,
  noun               TEXT    NOT NULL,  -- JSON array of segments
  args               TEXT    NOT NULL,  -- JSON array of strings
  query              TEXT    NOT NULL,  -- JSON array of {"key","values"}, in request order
  mime_type          TEXT    NOT NULL,
  request_id         TEXT    NOT NULL,
  timeout_ms         INTEGER NOT NULL CHECK (timeout_ms >= 0),
  idempotency_key    TEXT    CHECK (idempotency_key <> ''),  -- NULL: the event had none
  attempt            INTEGER NOT NULL CHECK (attempt >= 1),
  -- sha256 of verb, noun, args, query and body: what a decision applies to, and the
  -- idempotency fingerprint its key's record is set with (no body read back for it).
  digest             TEXT    NOT NULL CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*'),
  reason             TEXT    NOT NULL,
  created_at         INTEGER NOT NULL,
  expires_at         INTEGER NOT NULL CHECK (expires_at > created_at),
  decided_by         TEXT,
  decided_at         INTEGER,
  decision_reason    TEXT,
  -- The reply the sender's job will end with: NULL until the hold has an outcome.
  result_kind        INTEGER,
  result_status      INTEGER,
  result_return_code INTEGER,
  result_mime_type   TEXT,
  result_body        BLOB,
  announced          INTEGER NOT NULL DEFAULT 0 CHECK (announced IN (0, 1)),  -- onHold has run
  collected          INTEGER NOT NULL DEFAULT 0 CHECK (collected IN (0, 1)),  -- the sender has the outcome
  -- Every transition, oldest first: [{"status","at","by","reason"}].
  history            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(history) AND json_type(history) = 'array'),
  -- Decided exactly when no longer pending; pending has no outcome, denied and expired have one.
  CHECK ((status = 'pending') = (decided_at IS NULL)),
  CHECK (status <> 'pending' OR result_status IS NULL),
  CHECK (status NOT IN ('denied', 'expired') OR result_status IS NOT NULL),
  CHECK (collected = 0 OR result_status IS NOT NULL)
) STRICT;

CREATE TABLE hold_bodies (
  id   TEXT PRIMARY KEY,
  body BLOB NOT NULL
) STRICT;
CREATE TRIGGER holds_bodies_delete AFTER DELETE ON holds
BEGIN
  DELETE FROM hold_bodies WHERE id = OLD.id;
END;

-- GET /_rp/holds?status=S newest first (ids are monotonic ULIDs), pending ones oldest first
-- for onHold, and approved ones without an outcome at a restart.
CREATE INDEX holds_status_id ON holds (status, id);
-- Expiry of what still waits for a decision.
CREATE INDEX holds_pending_expiry ON holds (expires_at) WHERE status = 'pending';
-- Outcomes a peer has not fetched yet, oldest first: read when it (re)connects.
CREATE INDEX holds_uncollected ON holds (peer, id) WHERE result_status IS NOT NULL AND collected = 0;
-- Prune: holds whose outcome is set, by when they were decided.
CREATE INDEX holds_decided ON holds (decided_at) WHERE result_status IS NOT NULL;

-- The sender's side: a job on hold knows why and until when, and is released by hold id.
ALTER TABLE jobs ADD COLUMN hold_reason TEXT;
ALTER TABLE jobs ADD COLUMN hold_expires_at INTEGER;
-- 1: the job was cancelled while it waited on a hold, and the holder is still to be told to withdraw it.
ALTER TABLE jobs ADD COLUMN hold_withdraw INTEGER NOT NULL DEFAULT 0 CHECK (hold_withdraw IN (0, 1));
CREATE INDEX jobs_target_hold ON jobs (target, hold) WHERE hold IS NOT NULL;
CREATE INDEX jobs_withdraw ON jobs (target, id) WHERE hold_withdraw = 1;

-- The nonces of signed gateway requests (SPEC §10), kept until expires_at (wall clock, ms):
-- a restart must not forget one whose request could still be replayed.
CREATE TABLE nonces (
  key        TEXT    PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces (expires_at);
`;
