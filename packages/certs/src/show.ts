import { createHash, X509Certificate } from 'node:crypto';
import { CertsError } from '@restpipe/errors';
import { readCrl } from './crl.js';

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
};

/** Human-readable lines describing a certificate or CRL file's PEM text. */
export function describePem(pem: string): string[] {
  if (pem.includes('BEGIN X509 CRL')) return describeCrl(pem);
  if (!pem.includes('BEGIN CERTIFICATE')) throw new CertsError('not a certificate or CRL (no PEM block found)');
  const cert = new X509Certificate(pem);
  return [
    `subject:     ${cert.subject.replace(/\n/g, ', ')}`,
    `issuer:      ${cert.issuer.replace(/\n/g, ', ')}`,
    `serial:      ${cert.serialNumber}`,
    `SANs:        ${cert.subjectAltName ?? '(none)'}`,
    `EKU:         ${(cert.keyUsage ?? []).map((oid) => EKU_NAMES[oid] ?? oid).join(', ') || '(none)'}`,
    `CA:          ${cert.ca}`,
    `not before:  ${new Date(cert.validFrom).toISOString()}`,
    `not after:   ${new Date(cert.validTo).toISOString()}`,
    `SHA-256:     ${cert.fingerprint256}`,
  ];
}

function describeCrl(pem: string): string[] {
  const { entries, thisUpdate, nextUpdate, crlNumber } = readCrl(pem);
  const digest = createHash('sha256').update(pem).digest('hex');
  return [
    `CRL with ${entries.length} revoked certificate(s)`,
    `CRL number:  ${crlNumber ?? '(none)'}`,
    `this update: ${thisUpdate.toISOString()}`,
    `next update: ${nextUpdate?.toISOString() ?? '(none)'}${nextUpdate && nextUpdate.getTime() < Date.now() ? ' (past: re-sign with rp-certs crl)' : ''}`,
    ...entries.map((e) => `revoked:     serial ${e.serialHex} at ${e.revokedAt.toISOString()}`),
    `SHA-256:     ${digest}`,
  ];
}
