export * from './identity.js';
export * from './crl.js';
export * from './certs-dir.js';
export * from './cert-index.js';
export * from './revocation.js';
export { describePem } from './show.js';
