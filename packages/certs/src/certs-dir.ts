import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { CertsError } from '@restpipe/wire';
import { createCrl, normalizeSerial, readCrlEntries } from './crl.js';
import { createCa, issueCertificate, type Identity, type LeafOptions } from './identity.js';

/** Names become file names and certificate names: keep them plain. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

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

/** Creates the CA and an empty CRL. Returns the files written. */
export function initCa(options: DirOptions & { days?: number | undefined }): string[] {
  const ca = createCa({ days: options.days });
  const files = writeIdentity(options, CA_NAME, ca);
  writeFile(crlPath(options.dir), createCrl(ca, []), 0o644, options.force ?? false);
  return [...files, crlPath(options.dir)];
}

export function issue(kind: 'server' | 'client', options: DirOptions & Omit<LeafOptions, 'purposes'>): string[] {
  const name = checkName(options.name);
  const ca = readCa(options.dir);
  return writeIdentity(options, name, issueCertificate(ca, kind, { ...options, name }));
}

/** Adds NAME's certificate to the CRL and re-signs it. Returns the CRL path. */
export function revoke(options: { dir: string; name: string }): string {
  const name = checkName(options.name);
  const ca = readCa(options.dir);
  const certFile = paths(options.dir, name).cert;
  const serialHex = normalizeSerial(new X509Certificate(readText(certFile)).serialNumber);
  const file = crlPath(options.dir);
  const existing = existsSync(file) ? readCrlEntries(readText(file)) : [];
  const entries = existing.some((e) => e.serialHex === serialHex) ? existing : [...existing, { serialHex, revokedAt: new Date() }];
  writeFile(file, createCrl(ca, entries), 0o644, true);
  return file;
}

export function readCa(dir: string): Identity {
  const { key, cert } = paths(dir, CA_NAME);
  return { keyPem: readText(key), certPem: readText(cert) };
}

function writeIdentity(options: DirOptions, name: string, identity: Identity): string[] {
  mkdirSync(options.dir, { recursive: true });
  const { key, cert } = paths(options.dir, name);
  const force = options.force ?? false;
  for (const file of [key, cert]) {
    if (!force && existsSync(file)) throw new CertsError(`${file} exists; use --force to overwrite`);
  }
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
