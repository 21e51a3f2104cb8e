export * from './identity.js';
export * from './crl.js';
export * from './certs-dir.js';
export { describePem } from './show.js';
