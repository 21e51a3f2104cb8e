import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { CertsError } from '@restpipe/errors';
import { writeFileAtomic } from './atomic-write.js';
import { indexPath, readIndex, serialsOf } from './cert-index.js';
import { checkName, crlPath, paths, readCa, readText } from './certs-dir.js';
import { createCrl, normalizeSerial, readCrl, type RevokedEntry } from './crl.js';

export interface RevokeOptions {
  dir: string;
  /** Revoke every certificate ever issued for NAME... */
  name?: string | undefined;
  /** ...or this one serial (hex, any case, leading zeros optional). */
  serial?: string | undefined;
  /** CRL validity. @default 30 */
  days?: number | undefined;
}

export interface RevokeResult {
  file: string;
  /** Serials this call put on the CRL (already revoked ones included), lower-case hex. */
  serials: string[];
  /** Said to the user: why the result may be narrower than asked. */
  notes: string[];
}

const HEX = /^(?:0x)?([0-9a-f]+)$/i;

/** Puts certificates on the CRL and re-signs it (atomically). */
export function revoke(options: RevokeOptions): RevokeResult {
  if ((options.name === undefined) === (options.serial === undefined)) throw new CertsError('revoke needs a NAME or --serial HEX (one of them)');
  const { serials, notes } = options.serial !== undefined ? { serials: [parseSerial(options.serial)], notes: [] } : serialsForName(options.dir, checkName(options.name));
  const file = crlPath(options.dir);
  const previous = existsSync(file) ? readCrlFile(file) : undefined;
  const entries: RevokedEntry[] = [...(previous?.entries ?? [])];
  const now = new Date();
  for (const serialHex of serials) {
    if (!entries.some((e) => e.serialHex === serialHex)) entries.push({ serialHex, revokedAt: now });
  }
  writeCrl(options.dir, entries, previous?.crlNumber, options.days);
  return { file, serials, notes };
}

export interface ResignResult {
  file: string;
  revoked: number;
  nextUpdate: Date;
}

/** Signs the CRL again with the same entries, a new thisUpdate/nextUpdate and a higher crlNumber. */
export function resignCrl(options: { dir: string; days?: number | undefined }): ResignResult {
  const file = crlPath(options.dir);
  if (!existsSync(file)) throw new CertsError(`${file} does not exist; rp-certs init makes one`);
  const previous = readCrlFile(file);
  const nextUpdate = writeCrl(options.dir, previous.entries, previous.crlNumber, options.days);
  return { file, revoked: previous.entries.length, nextUpdate };
}

/** A serial as given by a user: hex, any case, `0x` and leading zeros optional. */
export function parseSerial(text: string): string {
  const match = HEX.exec(text.trim());
  if (!match) throw new CertsError(`--serial must be hexadecimal, got ${JSON.stringify(text)}`);
  return normalizeSerial(match[1]!);
}

function serialsForName(dir: string, name: string): { serials: string[]; notes: string[] } {
  const index = readIndex(dir);
  const serials = new Set(serialsOf(index ?? [], name));
  const notes: string[] = [];
  const certFile = paths(dir, name).cert;
  const onDisk = existsSync(certFile) ? normalizeSerial(new X509Certificate(readText(certFile)).serialNumber) : undefined;
  if (index === undefined) {
    notes.push(`${indexPath(dir)} not found (a certs dir from an older rp-certs): revoked only the certificate in ${certFile}; revoke older ones with --serial HEX`);
  } else if (serials.size === 0 && onDisk) {
    notes.push(`${name} is not in ${indexPath(dir)}: revoked only the certificate in ${certFile}; revoke older ones with --serial HEX`);
  }
  if (onDisk) serials.add(onDisk);
  if (serials.size === 0) throw new CertsError(`no certificate for ${name}: not in ${indexPath(dir)} and no ${certFile}`);
  return { serials: [...serials], notes };
}

function readCrlFile(file: string): ReturnType<typeof readCrl> {
  try {
    return readCrl(readText(file));
  } catch (error) {
    if (error instanceof CertsError) throw error;
    throw new CertsError(`${file} is not a CRL: ${(error as Error).message}`, { cause: error });
  }
}

/** Signs and writes the CRL; its number always grows, even twice in one second. Returns nextUpdate. */
function writeCrl(dir: string, entries: readonly RevokedEntry[], previousNumber: number | undefined, days: number | undefined): Date {
  const crlNumber = Math.max(Math.floor(Date.now() / 1000), (previousNumber ?? 0) + 1);
  const pem = createCrl(readCa(dir), entries, { days, crlNumber });
  writeFileAtomic(crlPath(dir), pem, 0o644);
  return readCrl(pem).nextUpdate!;
}
