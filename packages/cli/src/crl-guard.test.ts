import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, createCrl, type Identity } from '@restpipe/certs';
import { CrlGuard, crlWarning, parseCrl, prepareTls, type PreparedTls } from './crl-guard.js';

const DAY = 86_400_000;
let ca: Identity;

beforeAll(() => {
  ca = createCa();
});

function crl(thisUpdateIn: number, nextUpdateIn: number, serials: string[] = []): string {
  const now = Date.now();
  return createCrl(ca, serials.map((serialHex) => ({ serialHex, revokedAt: new Date() })), {
    thisUpdate: new Date(now + thisUpdateIn),
    nextUpdate: new Date(now + nextUpdateIn),
  });
}

const material = (pem: string) => ({ cert: 'c', key: 'k', ca: ca.certPem, crl: pem });

describe('CrlGuard: what OpenSSL gets, what restpipe refuses itself', () => {
  it('gives OpenSSL a CRL within its dates, and refuses its serials either way', () => {
    const fresh = prepareTls('f', material(crl(-DAY, 30 * DAY, ['0A1b'])));
    expect(fresh.tls.crl).toBeDefined();
    expect([...fresh.revoked]).toEqual(['a1b']);
  });

  it.each([
    ['past nextUpdate', -40 * DAY, -DAY],
    ['less than a minute before nextUpdate', -DAY, 30_000],
    ['thisUpdate in the future (a clock behind the CA)', DAY, 30 * DAY],
  ])('withholds a CRL %s from OpenSSL, and still refuses its serials', (_what, thisIn, nextIn) => {
    const stale = prepareTls('f', material(crl(thisIn, nextIn, ['ff'])));
    expect(stale.tls.crl).toBeUndefined();
    expect(stale.material.crl).toBeDefined();
    expect([...stale.revoked]).toEqual(['ff']);
  });

  it('warns from 7 days before nextUpdate (expired:false) and after it (expired:true)', () => {
    expect(crlWarning(parseCrl('f', crl(-DAY, 8 * DAY)))).toBeUndefined();
    expect(crlWarning(parseCrl('f', crl(-DAY, 6 * DAY)))).toMatchObject({ expired: false });
    expect(crlWarning(parseCrl('f', crl(-9 * DAY, -DAY)))).toMatchObject({ expired: true });
  });

  it('takes the CRL away from OpenSSL just before nextUpdate while running, keeping its serials', async () => {
    const records: Array<{ level: string; msg: string; obj: object }> = [];
    const at = (level: string) => (obj: object, msg = ''): void => void records.push({ level, msg, obj });
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const stale = new Promise<PreparedTls>((resolve) => {
      // nextUpdate in 61.5 s (UTCTime drops the milliseconds): OpenSSL must lose it within 1.5 s.
      const guard = new CrlGuard('f', logger, resolve);
      const first = guard.prepare(material(crl(-DAY, 61_500, ['abc'])));
      expect(first.tls.crl).toBeDefined();
      guard.commit(first);
      expect(guard.health()).toMatchObject({ expired: false });
      expect(records.find((r) => r.level === 'warn')?.obj).toMatchObject({ crlFile: 'f', expired: false });
    });
    const now = await stale;
    expect(now.tls.crl).toBeUndefined();
    expect([...now.revoked]).toEqual(['abc']);
  });
});
