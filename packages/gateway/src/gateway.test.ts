import { describe, expect, it } from 'vitest';
import { createGateway, HEADERS_TIMEOUT_MS } from './gateway.js';
import { parseEventPath } from './event-path.js';

describe('gateway settings', () => {
  it('sets bodyLimit, requestTimeout and headersTimeout explicitly', async () => {
    const app = createGateway({
      status: { role: 'client', name: 't', connected: () => false, peers: () => 0, ready: () => false },
      send: () => Promise.reject(new Error('unused')),
      maxEventBytes: 12345,
      timeoutMs: 1000,
      exposeTracebacks: false,
    });
    await app.ready();
    expect(app.initialConfig.bodyLimit).toBe(12345);
    expect(app.initialConfig.requestTimeout).toBe(0);
    expect(app.server.headersTimeout).toBe(HEADERS_TIMEOUT_MS);
    await app.close();
  });
});

describe('parseEventPath', () => {
  it('splits target, noun, args and query', () => {
    expect(parseEventPath('/client/node-a/time/utc//a%20b/%2F?x=1&x=2', '/client/', true)).toEqual({
      target: 'node-a', noun: ['time', 'utc'], args: ['a b', '/'], query: { x: ['1', '2'] },
    });
    expect(parseEventPath('/server/cat//', '/server/', false).args).toEqual(['']);
  });

  it.each(['/server/', '/server/a//x/%E0%A4%A', '/server/%2e%2e', '/server/a/../b'])('rejects %s', (url) => {
    expect(() => parseEventPath(url, '/server/', false)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_PATH' }));
  });
});
