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
const DEFAULT_CRL_DAYS = 30;

/**
 * Builds a signed X.509 v2 CRL. node-forge has certificates but no CRLs, so
 * the structure (RFC 5280 §5.1) is assembled with its ASN.1 tools and signed with its RSA.
 */
export function createCrl(
  ca: { keyPem: string; certPem: string },
  revoked: readonly RevokedEntry[],
  options: { days?: number; crlNumber?: number } = {},
): string {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const now = new Date();
  const next = new Date(now.getTime() + (options.days ?? DEFAULT_CRL_DAYS) * 86_400_000);
  const tbs = seq([
    int(1), // v2
    algorithm(),
    pki.distinguishedNameToAsn1(caCert.subject),
    time(now),
    time(next),
    ...(revoked.length > 0 ? [seq(revoked.map(entry))] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [seq([crlNumberExtension(options.crlNumber ?? Math.floor(Date.now() / 1000))])]),
  ]);
  const md = forge.md.sha256.create();
  md.update(asn1.toDer(tbs).getBytes());
  const signature = caKey.sign(md);
  const crl = seq([tbs, algorithm(), asn1.create(UNIVERSAL, T.BITSTRING, false, String.fromCharCode(0) + signature)]);
  return forge.pem.encode({ type: 'X509 CRL', body: asn1.toDer(crl).getBytes() }, { maxline: 64 });
}

/** Reads the revoked entries back out of a CRL this module wrote (or any RFC 5280 CRL). */
export function readCrlEntries(pem: string): RevokedEntry[] {
  const der = forge.pem.decode(pem).find((m) => m.type === 'X509 CRL');
  if (!der) throw new Error('no X509 CRL block in the file');
  const list = asn1.fromDer(der.body);
  const tbs = (list.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const revoked = tbs.find((node, index) => index > 2 && node.tagClass === UNIVERSAL && node.type === T.SEQUENCE);
  if (!revoked) return [];
  return (revoked.value as forge.asn1.Asn1[]).map((node) => {
    const [serial, when] = node.value as forge.asn1.Asn1[];
    return {
      serialHex: normalizeSerial(forge.util.bytesToHex(serial!.value as string)),
      revokedAt: when!.type === T.UTCTIME ? asn1.utcTimeToDate(when!.value as string) : asn1.generalizedTimeToDate(when!.value as string),
    };
  });
}

/** Serials compare as numbers: no leading zeros, lower case. */
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

function time(date: Date): forge.asn1.Asn1 {
  return asn1.create(UNIVERSAL, T.UTCTIME, false, asn1.dateToUtcTime(date));
}
