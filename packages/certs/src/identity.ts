import forge from 'node-forge';

const { pki } = forge;

/** A certificate with its private key, both PEM. */
export interface Identity {
  keyPem: string;
  certPem: string;
}

export type KeyPurpose = 'serverAuth' | 'clientAuth';

export interface ValidityOptions {
  /** @default 825 (leaf) or 3650 (CA) */
  days?: number | undefined;
  /** Explicit dates, for tests of expired and not-yet-valid certificates. */
  notBefore?: Date | undefined;
  notAfter?: Date | undefined;
}

export interface CaOptions extends ValidityOptions {
  /** @default 'restpipe dev CA' */
  commonName?: string | undefined;
}

export interface LeafOptions extends ValidityOptions {
  name: string;
  /** Key purposes (EKU). Default: serverAuth for a server, clientAuth for a client. */
  purposes?: readonly KeyPurpose[] | undefined;
  /**
   * SAN entries like `DNS:host` or `IP:127.0.0.1`. A server defaults to
   * `DNS:NAME, DNS:localhost, IP:127.0.0.1`; a client to `DNS:NAME`. `[]` means none.
   */
  san?: readonly string[] | undefined;
  /** Certify this existing private key (PEM) instead of making a new one, as a renewal does. */
  keyPem?: string | undefined;
}

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 825;
const RSA_BITS = 2048;
/** Tolerates clocks a little behind ours. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export function createCa(options: CaOptions = {}): Identity {
  const keys = pki.rsa.generateKeyPair({ bits: RSA_BITS });
  const cert = baseCertificate(keys.publicKey, options, DEFAULT_CA_DAYS);
  const subject = [{ name: 'commonName', value: options.commonName ?? 'restpipe dev CA' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { keyPem: pki.privateKeyToPem(keys.privateKey), certPem: pki.certificateToPem(cert) };
}

/** Issues a server or client certificate signed by `ca`. */
export function issueCertificate(ca: Identity, kind: 'server' | 'client', options: LeafOptions): Identity {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const keys = options.keyPem ? keyPairFromPem(options.keyPem) : pki.rsa.generateKeyPair({ bits: RSA_BITS });
  const cert = baseCertificate(keys.publicKey, options, DEFAULT_LEAF_DAYS);
  cert.setSubject([{ name: 'commonName', value: options.name }]);
  cert.setIssuer(caCert.subject.attributes);
  const purposes = options.purposes ?? [kind === 'server' ? 'serverAuth' : 'clientAuth'];
  const san = options.san ?? defaultSan(kind, options.name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', ...Object.fromEntries(purposes.map((p) => [p, true])) },
    ...(san.length > 0 ? [{ name: 'subjectAltName', altNames: san.map(altName) }] : []),
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { keyPem: pki.privateKeyToPem(keys.privateKey), certPem: pki.certificateToPem(cert) };
}

/** A certificate signed by its own key, for tests of what must be refused. */
export function createSelfSigned(options: LeafOptions): Identity {
  const keys = pki.rsa.generateKeyPair({ bits: RSA_BITS });
  const cert = baseCertificate(keys.publicKey, options, DEFAULT_LEAF_DAYS);
  const subject = [{ name: 'commonName', value: options.name }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames: (options.san ?? [`DNS:${options.name}`]).map(altName) },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { keyPem: pki.privateKeyToPem(keys.privateKey), certPem: pki.certificateToPem(cert) };
}

function keyPairFromPem(keyPem: string): forge.pki.rsa.KeyPair {
  const privateKey = pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: pki.setRsaPublicKey(privateKey.n, privateKey.e) };
}

function defaultSan(kind: 'server' | 'client', name: string): string[] {
  return kind === 'server' ? [`DNS:${name}`, 'DNS:localhost', 'IP:127.0.0.1'] : [`DNS:${name}`];
}

function baseCertificate(publicKey: forge.pki.PublicKey, options: ValidityOptions, defaultDays: number): forge.pki.Certificate {
  const cert = pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  const now = Date.now();
  cert.validity.notBefore = options.notBefore ?? new Date(now - BACKDATE_MS);
  cert.validity.notAfter = options.notAfter ?? new Date(now + (options.days ?? defaultDays) * DAY_MS);
  return cert;
}

/** 16 random bytes as hex, for a certificate serial. */
export function randomSerial(): string {
  const bytes = forge.random.getBytesSync(16);
  // DER INTEGER: positive (top bit clear) and minimal (no leading zero byte, which
  // OpenSSL refuses as "illegal padding"), so the first byte is 0x40..0x7f.
  return forge.util.bytesToHex(String.fromCharCode((bytes.charCodeAt(0) & 0x3f) | 0x40) + bytes.slice(1));
}

/** `DNS:x` / `IP:1.2.3.4` -> a node-forge altName. */
export function altName(entry: string): { type: number; value?: string; ip?: string } {
  const colon = entry.indexOf(':');
  const kind = entry.slice(0, colon).toUpperCase();
  const value = entry.slice(colon + 1);
  if (colon > 0 && kind === 'DNS' && value) return { type: 2, value };
  if (colon > 0 && kind === 'IP' && value) return { type: 7, ip: value };
  throw new Error(`SAN entry ${JSON.stringify(entry)} must look like DNS:name or IP:address`);
}
