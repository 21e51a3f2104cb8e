import { describe, expect, it } from 'vitest';
import { randomSerial } from './identity.js';

describe('randomSerial', () => {
  it('is always a minimal, positive DER integer: 16 bytes, first byte 0x40..0x7f', () => {
    // A leading 0x00 byte (1 serial in 256 before this rule) made OpenSSL refuse the
    // whole certificate with "asn1 encoding routines::illegal padding".
    for (let i = 0; i < 5_000; i++) {
      const serial = randomSerial();
      expect(serial).toMatch(/^[0-9a-f]{32}$/);
      const first = Number.parseInt(serial.slice(0, 2), 16);
      expect(first >= 0x40 && first <= 0x7f).toBe(true);
    }
  });
});
