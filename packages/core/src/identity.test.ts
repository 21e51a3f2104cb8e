import { describe, expect, it } from 'vitest';
import { dnsNames, peerNameFromCertificate } from './identity.js';

describe('peer identity', () => {
  it('is the first SAN DNS name', () => {
    expect(peerNameFromCertificate({ subjectAltName: 'IP Address:127.0.0.1, DNS:node-a, DNS:other', commonName: 'cn' })).toBe('node-a');
  });

  it('is the CN when the certificate has no SAN DNS name', () => {
    expect(peerNameFromCertificate({ subjectAltName: 'IP Address:10.0.0.1', commonName: 'node-b' })).toBe('node-b');
    expect(peerNameFromCertificate({ commonName: 'node-c' })).toBe('node-c');
  });

  it('is nothing when the certificate names no one', () => {
    expect(peerNameFromCertificate({})).toBeUndefined();
  });

  it('reads names Node quotes', () => {
    expect(dnsNames('DNS:"a,b", DNS:c')).toEqual(['a,b', 'c']);
  });
});
