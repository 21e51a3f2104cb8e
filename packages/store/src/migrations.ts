/**
 * Versioned schema migrations. `PRAGMA user_version` is the schema version the file is
 * at (0: empty); each migration takes it one step, in its own transaction, and
 * `schema_migrations` keeps a row per step applied. A file from a newer restpipe is
 * refused rather than read with the wrong schema.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '@restpipe/errors';
import { SCHEMA_V1 } from './schema-v1.js';
import { SCHEMA_V2 } from './schema-v2.js';
import { SCHEMA_V3 } from './schema-v3.js';
import { SCHEMA_V4 } from './schema-v4.js';

export interface Migration {
  /** The version the file is at once this migration has run: 1, 2, 3... with no gap. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Every migration, oldest first. Append; never edit or reorder a released one. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'jobs and idempotency records', sql: SCHEMA_V1 },
  { version: 2, name: 'due jobs by target', sql: SCHEMA_V2 },
  { version: 3, name: 'request bodies in their own table', sql: SCHEMA_V3 },
  { version: 4, name: 'approval holds', sql: SCHEMA_V4 },
]);

/** "RPST": marks a file as restpipe's, so that another program's database is refused. */
export const APPLICATION_ID = 0x52505354;

export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

const MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT;`;

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Refuses a file that is not restpipe's, or is from a newer restpipe. */
function checkOwnership(db: Database.Database, file: string, version: number, latest: number): void {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_schema`).get() as { n: number };
  const foreign = applicationId !== 0 ? applicationId !== APPLICATION_ID : version !== 0 || tables.n > 0;
  if (foreign) throw new StoreError(`${file} is not a restpipe database (application_id ${applicationId}, user_version ${version})`);
  if (version > latest) {
    throw new StoreError(
      `${file} has schema version ${version}, newer than this restpipe knows (${latest}): run a newer restpipe, or use another --data-dir`,
    );
  }
}

function apply(db: Database.Database, migration: Migration, now: number): void {
  db.transaction(() => {
    db.exec(MIGRATIONS_TABLE);
    db.exec(migration.sql);
    db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(migration.version, migration.name, now);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${migration.version}`);
  })();
}

/**
 * Brings the file to LATEST_SCHEMA_VERSION and returns the version it was at.
 * A migration that fails is rolled back whole, and the file stays at the version before it.
 */
export function migrate(db: Database.Database, file: string, now: number, migrations: readonly Migration[] = MIGRATIONS): number {
  const from = userVersion(db);
  checkOwnership(db, file, from, migrations.at(-1)?.version ?? 0);
  for (const migration of migrations) {
    if (migration.version > from) apply(db, migration, now);
  }
  return from;
}
