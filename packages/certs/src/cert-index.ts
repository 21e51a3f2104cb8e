import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertsError } from '@restpipe/errors';
import { writeFileAtomic } from './atomic-write.js';
import { normalizeSerial } from './crl.js';

/** One certificate rp-certs issued, as `DIR/index.json` keeps it. */
export interface IndexEntry {
  name: string;
  kind: 'ca' | 'server' | 'client';
  /** Lower-case hex, no leading zeros. */
  serial: string;
  notAfter: string;
  issuedAt: string;
}

interface IndexFile {
  version: 1;
  certificates: IndexEntry[];
}

export function indexPath(dir: string): string {
  return join(dir, 'index.json');
}

/** Every certificate recorded in DIR, oldest first; `undefined` for a dir an older rp-certs made. */
export function readIndex(dir: string): IndexEntry[] | undefined {
  const file = indexPath(dir);
  if (!existsSync(file)) return undefined;
  let parsed: Partial<IndexFile>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<IndexFile>;
  } catch (error) {
    throw new CertsError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed.certificates)) throw new CertsError(`${file} holds no "certificates" list`);
  return parsed.certificates;
}

/** The index entry for a certificate about to be written. */
export function indexEntry(kind: IndexEntry['kind'], name: string, certPem: string): IndexEntry {
  const cert = new X509Certificate(certPem);
  return {
    name,
    kind,
    serial: normalizeSerial(cert.serialNumber),
    notAfter: new Date(cert.validTo).toISOString(),
    issuedAt: new Date().toISOString(),
  };
}

/** Appends to DIR/index.json (atomically); `fresh` starts a new one, as a new CA does. */
export function recordIssued(dir: string, entry: IndexEntry, fresh = false): void {
  const certificates = [...(fresh ? [] : readIndex(dir) ?? []), entry];
  const body: IndexFile = { version: 1, certificates };
  writeFileAtomic(indexPath(dir), `${JSON.stringify(body, null, 2)}\n`, 0o644);
}

/** Serials of every certificate ever issued for NAME. */
export function serialsOf(entries: readonly IndexEntry[], name: string): string[] {
  return entries.filter((e) => e.name === name && e.kind !== 'ca').map((e) => e.serial);
}
