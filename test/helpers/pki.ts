import { createCa, createCrl, createSelfSigned, issueCertificate, type Identity, type LeafOptions } from '@restpipe/certs';
import type { TlsMaterial } from '@restpipe/core';

/** A CA with helpers to issue identities and turn them into TLS material. Made fresh per test file. */
export class TestPki {
  readonly ca: Identity = createCa({ commonName: 'restpipe test CA' });
  readonly server: Identity = issueCertificate(this.ca, 'server', { name: 'server' });
  readonly #clients = new Map<string, Identity>();

  client(name: string, options: Partial<LeafOptions> = {}): Identity {
    const cached = Object.keys(options).length === 0 ? this.#clients.get(name) : undefined;
    if (cached) return cached;
    const identity = issueCertificate(this.ca, 'client', { name, ...options });
    if (Object.keys(options).length === 0) this.#clients.set(name, identity);
    return identity;
  }

  issue(kind: 'server' | 'client', options: LeafOptions): Identity {
    return issueCertificate(this.ca, kind, options);
  }

  selfSigned(name: string): Identity {
    return createSelfSigned({ name });
  }

  crl(serials: string[]): string {
    return createCrl(this.ca, serials.map((serialHex) => ({ serialHex, revokedAt: new Date() })));
  }

  tls(identity: Identity, extra: Partial<TlsMaterial> = {}): TlsMaterial {
    return { cert: identity.certPem, key: identity.keyPem, ca: this.ca.certPem, ...extra };
  }
}
