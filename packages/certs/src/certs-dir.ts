import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CertsError } from '@restpipe/errors';
import { writeFileAtomic } from './atomic-write.js';
import { indexEntry, recordIssued } from './cert-index.js';
import { createCrl } from './crl.js';
import { createCa, issueCertificate, type Identity, type LeafOptions } from './identity.js';
import { NAME_PATTERN } from './names.js';

export { NAME_PATTERN } from './names.js';

export const CA_NAME = 'ca';

export interface DirOptions {
  dir: string;
  /** Overwrite existing files. @default false */
  force?: boolean | undefined;
}

export function paths(dir: string, name: string): { key: string; cert: string } {
  return { key: join(dir, `${name}.key.pem`), cert: join(dir, `${name}.crt.pem`) };
}

export function crlPath(dir: string): string {
  return join(dir, `${CA_NAME}.crl.pem`);
}

export function checkName(name: string | undefined): string {
  if (!name || !NAME_PATTERN.test(name) || name === CA_NAME) {
    throw new CertsError(`invalid NAME ${JSON.stringify(name ?? '')}: must match ${NAME_PATTERN.source} and not be "ca"`);
  }
  return name;
}

/** Creates the CA, an empty CRL and a new index.json. Returns the files written. */
export function initCa(options: DirOptions & { days?: number | undefined }): string[] {
  const crl = crlPath(options.dir);
  refuseExisting(options, [...Object.values(paths(options.dir, CA_NAME)), crl]);
  const ca = createCa({ days: options.days });
  mkdirSync(options.dir, { recursive: true });
  // A new CA starts a new index: the old one's certificates do not chain to it.
  recordIssued(options.dir, indexEntry('ca', CA_NAME, ca.certPem), true);
  const files = writeIdentity(options, CA_NAME, ca);
  writeFileAtomic(crl, createCrl(ca, []), 0o644);
  return [...files, crl];
}

/** Issues NAME's certificate, recorded in index.json before it is written. */
export function issue(kind: 'server' | 'client', options: DirOptions & Omit<LeafOptions, 'purposes'>): string[] {
  const name = checkName(options.name);
  const ca = readCa(options.dir);
  refuseExisting(options, Object.values(paths(options.dir, name)));
  const identity = issueCertificate(ca, kind, { ...options, name });
  recordIssued(options.dir, indexEntry(kind, name, identity.certPem));
  return writeIdentity(options, name, identity);
}

export function readCa(dir: string): Identity {
  const { key, cert } = paths(dir, CA_NAME);
  return { keyPem: readText(key), certPem: readText(cert) };
}

function refuseExisting(options: DirOptions, files: readonly string[]): void {
  if (options.force) return;
  for (const file of files) {
    if (existsSync(file)) throw new CertsError(`${file} exists; use --force to overwrite`);
  }
}

function writeIdentity(options: DirOptions, name: string, identity: Identity): string[] {
  mkdirSync(options.dir, { recursive: true });
  const { key, cert } = paths(options.dir, name);
  const force = options.force ?? false;
  refuseExisting(options, [key, cert]);
  writeFile(key, identity.keyPem, 0o600, force);
  writeFile(cert, identity.certPem, 0o644, force);
  return [key, cert];
}

function writeFile(file: string, text: string, mode: number, force: boolean): void {
  try {
    writeFileSync(file, text, { mode, flag: force ? 'w' : 'wx' });
    chmodSync(file, mode); // an overwritten file keeps its old mode otherwise
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CertsError(`${file} exists; use --force to overwrite`);
    throw new CertsError(`cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
}

export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new CertsError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}
