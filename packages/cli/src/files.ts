import { readFileSync, statSync } from 'node:fs';
import { ConfigError, TICKET_KEYS_BYTES, type TlsMaterial } from '@restpipe/core';
import { API_KEY_PRINCIPAL, LOCAL_PRINCIPAL } from '@restpipe/gateway';
import { KEY_ID } from '@restpipe/signing';
import type { NodeConfig } from './config.js';

/** Secrets must not be readable by group or others. */
const PRIVATE_BITS = 0o077;

/** Reads a file named by a flag; any failure is a ConfigError naming the flag and the file. */
export function readFlagFile(flag: string, file: string, encoding: BufferEncoding = 'utf8'): string {
  try {
    return readFileSync(file, encoding);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`${flag} file ${file} cannot be read (${code})`);
  }
}

/** Reads a secret, refusing one that group or others can read. */
export function readSecretFile(flag: string, file: string, encoding: BufferEncoding = 'utf8'): string {
  const text = readFlagFile(flag, file, encoding);
  if (process.platform !== 'win32' && (statSync(file).mode & PRIVATE_BITS) !== 0) {
    throw new ConfigError(`key file ${file} is readable by others; chmod 600 ${file}`);
  }
  return text;
}

function readPem(flag: string, file: string, secret: boolean): string {
  const text = secret ? readSecretFile(flag, file) : readFlagFile(flag, file);
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) throw new ConfigError(`${flag} file ${file} holds no PEM block`);
  return text;
}

/** Certificate, key, CA and CRL from the files the config names. Read again on SIGHUP. */
export function loadTlsMaterial(config: NodeConfig): TlsMaterial {
  return {
    cert: readPem('--cert', config.cert, false),
    key: readPem('--key', config.key, true),
    ca: readPem('--ca', config.ca, false),
    crl: config.crl ? readPem('--crl', config.crl, false) : undefined,
    minVersion: config.tlsMinVersion,
  };
}

/** TLS session ticket keys: exactly 48 bytes, readable by the owner only. */
export function loadTicketKeys(config: NodeConfig): Buffer | undefined {
  const file = config.ticketKeysFile;
  if (!file) return undefined;
  const keys = Buffer.from(readSecretFile('--ticket-keys-file', file, 'binary'), 'binary');
  if (keys.length !== TICKET_KEYS_BYTES) {
    throw new ConfigError(`--ticket-keys-file file ${file} must hold exactly ${TICKET_KEYS_BYTES} bytes, not ${keys.length} (make one with: head -c ${TICKET_KEYS_BYTES} /dev/urandom > ${file}; chmod 600 ${file})`);
  }
  return keys;
}

/** The gateway API key: the file's first line, trimmed. */
export function loadApiKey(config: NodeConfig): string | undefined {
  if (!config.apiKeyFile) return undefined;
  const key = readSecretFile('--api-key-file', config.apiKeyFile).split(/\r?\n/)[0]!.trim();
  if (!key) throw new ConfigError(`--api-key-file ${config.apiKeyFile} is empty`);
  return key;
}

/** Shorter HMAC secrets are guessable from one signed request; RFC 2104 asks for the hash's length. */
export const MIN_SIGNING_SECRET_BYTES = 32;

/**
 * The gateway's signing keys (SPEC §10): a JSON object `{"KEYID": "SECRET", ...}`, readable
 * by the owner only, each secret used as its UTF-8 bytes. Every key in it is valid at once.
 */
export function loadSigningKeys(config: NodeConfig): Map<string, Buffer> | undefined {
  const file = config.signingKeysFile;
  if (!file) return undefined;
  const bad = (why: string): ConfigError => new ConfigError(`--signing-keys-file ${file} ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readSecretFile('--signing-keys-file', file));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Not the parser's message: it quotes the text around the fault, and that text is secret.
    const at = /at position \d+/.exec((error as Error).message)?.[0];
    throw bad(`is not valid JSON${at ? ` (${at})` : ''}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad('must hold a JSON object {"KEYID": "SECRET", ...}');
  const keys = new Map<string, Buffer>();
  for (const [keyId, secret] of Object.entries(parsed)) {
    if (!KEY_ID.test(keyId)) throw bad(`has a key id that does not match ${KEY_ID.source}: ${JSON.stringify(keyId.slice(0, 80))}`);
    if (keyId === LOCAL_PRINCIPAL || keyId === API_KEY_PRINCIPAL) throw bad(`uses the reserved key id "${keyId}" (what decidedBy says without a signature)`);
    if (typeof secret !== 'string') throw bad(`has a secret for "${keyId}" that is not a string`);
    const bytes = Buffer.from(secret, 'utf8');
    if (bytes.length < MIN_SIGNING_SECRET_BYTES) {
      throw bad(`has a secret for "${keyId}" of ${bytes.length} bytes; use at least ${MIN_SIGNING_SECRET_BYTES} (e.g. openssl rand -base64 32)`);
    }
    keys.set(keyId, bytes);
  }
  if (keys.size === 0) throw bad('holds no keys');
  return keys;
}
