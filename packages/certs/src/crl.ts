import forge from 'node-forge';

const { asn1, pki } = forge;
const T = asn1.Type;
const UNIVERSAL = asn1.Class.UNIVERSAL;

export interface RevokedEntry {
  /** Certificate serial, lower-case hex without leading zeros' significance. */
  serialHex: string;
  revokedAt: Date;
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const CRL_NUMBER = '2.5.29.20';
export const DEFAULT_CRL_DAYS = 30;
const DAY_MS = 86_400_000;
/** Tolerates clocks a little behind ours, as certificates do. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface CrlOptions {
  /** nextUpdate = now + days. @default 30 */
  days?: number | undefined;
  /** Must grow with every CRL the CA signs. @default seconds since 1970 */
  crlNumber?: number | undefined;
  /** Explicit dates, for tests of stale CRLs. @default 5 minutes ago */
  thisUpdate?: Date | undefined;
  /** Overrides `days`. @default now + days */
  nextUpdate?: Date | undefined;
}

/** A CRL's revoked entries and dates, as read back. */
export interface CrlInfo {
  entries: RevokedEntry[];
  thisUpdate: Date;
  /** When the CA promised a newer CRL; absent in a CRL that names none. */
  nextUpdate: Date | undefined;
  crlNumber: number | undefined;
}

/**
 * Builds a signed X.509 v2 CRL. node-forge has certificates but no CRLs, so
 * the structure (RFC 5280 §5.1) is assembled with its ASN.1 tools and signed with its RSA.
 */
export function createCrl(ca: { keyPem: string; certPem: string }, revoked: readonly RevokedEntry[], options: CrlOptions = {}): string {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const now = Date.now();
  const thisUpdate = options.thisUpdate ?? new Date(now - BACKDATE_MS);
  const next = options.nextUpdate ?? new Date(now + (options.days ?? DEFAULT_CRL_DAYS) * DAY_MS);
  const tbs = seq([
    int(1), // v2
    algorithm(),
    pki.distinguishedNameToAsn1(caCert.subject),
    time(thisUpdate),
    time(next),
    ...(revoked.length > 0 ? [seq(revoked.map(entry))] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [seq([crlNumberExtension(options.crlNumber ?? Math.floor(now / 1000))])]),
  ]);
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbs).getBytes());
  const signature = caKey.sign(md);
  const crl = seq([tbs, algorithm(), asn1.create(UNIVERSAL, T.BITSTRING, false, String.fromCharCode(0) + signature)]);
  return forge.pem.encode({ type: 'X509 CRL', body: asn1.toDer(crl).getBytes() }, { maxline: 64 });
}

/** Reads the revoked entries back out of a CRL this module wrote (or any RFC 5280 CRL). */
export function readCrlEntries(pem: string): RevokedEntry[] {
  return readCrl(pem).entries;
}

/** Reads revoked entries, thisUpdate, nextUpdate and the CRL number of a PEM CRL. */
export function readCrl(pem: string): CrlInfo {
  const der = forge.pem.decode(pem).find((m) => m.type === 'X509 CRL');
  if (!der) throw new Error('no X509 CRL block in the file');
  const list = asn1.fromDer(der.body);
  const tbs = (list.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  // version is OPTIONAL (absent in v1 CRLs); then signature, issuer, thisUpdate, nextUpdate?.
  const first = tbs[0]!.type === T.INTEGER ? 1 : 0;
  const thisUpdate = tbs[first + 2];
  if (!thisUpdate || !isTime(thisUpdate)) throw new Error('CRL has no thisUpdate');
  const next = tbs[first + 3];
  return {
    entries: revokedEntries(tbs.slice(first + 3)),
    thisUpdate: dateOf(thisUpdate),
    nextUpdate: next && isTime(next) ? dateOf(next) : undefined,
    crlNumber: crlNumberOf(tbs[tbs.length - 1]!),
  };
}

function revokedEntries(rest: forge.asn1.Asn1[]): RevokedEntry[] {
  const revoked = rest.find((node) => node.tagClass === UNIVERSAL && node.type === T.SEQUENCE);
  if (!revoked) return [];
  return (revoked.value as forge.asn1.Asn1[]).map((node) => {
    const [serial, when] = node.value as forge.asn1.Asn1[];
    return { serialHex: normalizeSerial(forge.util.bytesToHex(serial!.value as string)), revokedAt: dateOf(when!) };
  });
}

/** The crlNumber extension inside `[0] EXPLICIT Extensions`, when there is one. */
function crlNumberOf(node: forge.asn1.Asn1): number | undefined {
  if (node.tagClass !== asn1.Class.CONTEXT_SPECIFIC || node.type !== 0) return undefined;
  const extensions = ((node.value as forge.asn1.Asn1[])[0]?.value ?? []) as forge.asn1.Asn1[];
  for (const extension of extensions) {
    const parts = extension.value as forge.asn1.Asn1[];
    if (asn1.derToOid(parts[0]!.value as string) !== CRL_NUMBER) continue;
    const value = asn1.fromDer(parts[parts.length - 1]!.value as string);
    return Number.parseInt(forge.util.bytesToHex(value.value as string), 16);
  }
  return undefined;
}

function isTime(node: forge.asn1.Asn1): boolean {
  return node.tagClass === UNIVERSAL && (node.type === T.UTCTIME || node.type === T.GENERALIZEDTIME);
}

function dateOf(node: forge.asn1.Asn1): Date {
  return node.type === T.UTCTIME ? asn1.utcTimeToDate(node.value as string) : asn1.generalizedTimeToDate(node.value as string);
}

/**
 * The one spelling of a certificate serial in what rp-certs reads and writes (the
 * CRL, index.json, `revoke --serial`): lower-case hex, no leading zeros, so that two
 * spellings of one number are one serial. (PipeServer compares serials as numbers
 * and needs no spelling.)
 */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

function entry(revoked: RevokedEntry): forge.asn1.Asn1 {
  return seq([serialInteger(revoked.serialHex), time(revoked.revokedAt)]);
}

function serialInteger(hex: string): forge.asn1.Asn1 {
  let clean = normalizeSerial(hex);
  if (clean.length % 2 === 1) clean = `0${clean}`;
  let bytes = forge.util.hexToBytes(clean);
  if (bytes.charCodeAt(0) & 0x80) bytes = String.fromCharCode(0) + bytes;
  return asn1.create(UNIVERSAL, T.INTEGER, false, bytes);
}

function crlNumberExtension(value: number): forge.asn1.Asn1 {
  const number = asn1.toDer(int(value)).getBytes();
  return seq([oid(CRL_NUMBER), asn1.create(UNIVERSAL, T.OCTETSTRING, false, number)]);
}

function algorithm(): forge.asn1.Asn1 {
  return seq([oid(SHA256_WITH_RSA), asn1.create(UNIVERSAL, T.NULL, false, '')]);
}

function seq(items: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(UNIVERSAL, T.SEQUENCE, true, items);
}

function oid(value: string): forge.asn1.Asn1 {
  return asn1.create(UNIVERSAL, T.OID, false, asn1.oidToDer(value).getBytes());
}

function int(value: number): forge.asn1.Asn1 {
  return asn1.create(UNIVERSAL, T.INTEGER, false, asn1.integerToDer(value).getBytes());
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): forge.asn1.Asn1 {
  if (date.getUTCFullYear() >= 2050) return asn1.create(UNIVERSAL, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
  return asn1.create(UNIVERSAL, T.UTCTIME, false, asn1.dateToUtcTime(date));
}
