import { describe, expect, it } from 'vitest';
import { ConfigError } from '@restpipe/wire';
import { checkServers, formatAddress, MAX_SERVERS, ServerRotation, serversOf } from './server-list.js';

describe('a client\'s servers', () => {
  it('host and port, or their defaults, are a list of one', () => {
    expect(serversOf({})).toEqual([{ host: 'localhost', port: 1234 }]);
    expect(serversOf({ host: 'hub.example', port: 4443 })).toEqual([{ host: 'hub.example', port: 4443 }]);
    expect(serversOf({ port: 7 })).toEqual([{ host: 'localhost', port: 7 }]);
  });

  it('servers is taken as given, in order, frozen', () => {
    const servers = serversOf({ servers: [{ host: 'a', port: 1 }, { host: '::1', port: 2 }] });
    expect(servers).toEqual([{ host: 'a', port: 1 }, { host: '::1', port: 2 }]);
    expect(Object.isFrozen(servers)).toBe(true);
    expect(Object.isFrozen(servers[0])).toBe(true);
  });

  it('servers together with host or port is a ConfigError', () => {
    expect(() => serversOf({ servers: [{ host: 'a', port: 1 }], host: 'b' })).toThrow(ConfigError);
    expect(() => serversOf({ servers: [{ host: 'a', port: 1 }], port: 2 })).toThrow(/either servers or host and port/);
  });

  it('refuses an empty list, a long one, a bad entry and a duplicate, naming it', () => {
    expect(() => serversOf({ servers: [] })).toThrow('servers must name at least one server');
    const many = Array.from({ length: MAX_SERVERS + 1 }, (_, i) => ({ host: `h${i}`, port: 1 }));
    expect(() => serversOf({ servers: many })).toThrow(`servers names ${MAX_SERVERS + 1} servers; at most ${MAX_SERVERS}`);
    expect(serversOf({ servers: many.slice(0, MAX_SERVERS) })).toHaveLength(MAX_SERVERS);
    expect(() => serversOf({ servers: [{ host: 'a', port: 1 }, { host: 'b', port: 0 }] })).toThrow('servers[1].port must be a whole number from 1 to 65535, got 0');
    expect(() => serversOf({ servers: [{ host: 'a', port: 65536 }] })).toThrow('servers[0].port');
    expect(() => serversOf({ servers: [{ host: 'a', port: 1.5 }] })).toThrow('servers[0].port');
    expect(() => serversOf({ servers: [{ host: '', port: 1 }] })).toThrow('servers[0].host must be a host name or address, got ""');
    expect(() => serversOf({ servers: [{ host: 'a,b', port: 1 }] })).toThrow('servers[0].host');
    expect(() => serversOf({ servers: [null] })).toThrow('servers[0] must be {host, port}');
    expect(() => serversOf({ servers: 'a:1' })).toThrow('servers must be a list of {host, port}');
    expect(() => serversOf({ servers: [{ host: 'Hub', port: 1 }, { host: 'hub', port: 1 }] })).toThrow('servers names hub:1 twice');
    expect(serversOf({ servers: [{ host: 'hub', port: 1 }, { host: 'hub', port: 2 }] })).toHaveLength(2);
    expect(() => serversOf({ port: 0 })).toThrow('port must be a whole number from 1 to 65535, got 0');
    expect(() => checkServers([{ host: 'a', port: 1 }, { host: 'a', port: 1 }], '--server')).toThrow('--server names a:1 twice');
  });

  it('names IPv6 hosts in brackets', () => {
    expect(formatAddress({ host: '::1', port: 9 })).toBe('[::1]:9');
    expect(formatAddress({ host: '127.0.0.1', port: 9 })).toBe('127.0.0.1:9');
  });

  it('rotates round robin, and a list of one stays put', () => {
    const rotation = new ServerRotation(serversOf({ servers: [{ host: 'a', port: 1 }, { host: 'b', port: 1 }, { host: 'c', port: 1 }] }));
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      seen.push(rotation.current.host);
      rotation.advance();
    }
    expect(seen).toEqual(['a', 'b', 'c', 'a', 'b']);
    const one = new ServerRotation(serversOf({ host: 'solo', port: 1 }));
    one.advance();
    expect(one.current).toEqual({ host: 'solo', port: 1 });
  });
});
