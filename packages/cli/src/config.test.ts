import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig, type NodeConfig } from './config.js';

function config(role: 'server' | 'client', argv: string[], env: NodeJS.ProcessEnv = {}): NodeConfig {
  const parsed = resolveConfig(role, argv, env);
  if (parsed.help) throw new Error('help');
  return parsed.config;
}

function file(content: object): string {
  const path = join(mkdtempSync(join(tmpdir(), 'rp-config-')), 'config.json');
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('config precedence: flag, then env, then --config, then default', () => {
  it('uses the SPEC defaults', () => {
    const server = config('server', []);
    expect(server.listen).toEqual({ host: '0.0.0.0', port: 1234 });
    expect(server.gateway).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8000 });
    expect(server.statsd).toEqual({ host: 'localhost', port: 8125 });
    expect(server.statsdPrefix).toBe('restpipe.server');
    expect(server.cert).toBe('certs/server.crt.pem');
    const client = config('client', []);
    expect(client.servers).toEqual([{ host: 'localhost', port: 1234 }]);
    // Unset: each server's HOST is the name its certificate is checked against.
    expect(client.serverName).toBeUndefined();
    expect(client.gateway).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 8001 });
    expect(client.statsdPrefix).toBe('restpipe.client');
    expect(client).toMatchObject({ heartbeatMs: 5000, timeoutMs: 30000, connectWaitMs: 2000, maxEventBytes: 4194304, maxInFlight: 1024, maxConcurrency: 64, tlsMinVersion: 'TLSv1.3', logLevel: 'info', exposeTracebacks: false, gatewaySocketMode: 0o600 });
  });

  it('a flag beats env, env beats the config file, the file beats the default', () => {
    const cfg = file({ 'heartbeat-ms': 111, timeoutMs: 222, 'max-in-flight': 333 });
    const env = { RP_HEARTBEAT_MS: '444', RP_TIMEOUT_MS: '555' };
    const resolved = config('server', ['--config', cfg, '--heartbeat-ms', '666'], env);
    expect(resolved.heartbeatMs).toBe(666);
    expect(resolved.timeoutMs).toBe(555);
    expect(resolved.maxInFlight).toBe(333);
    expect(resolved.maxConcurrency).toBe(64);
  });

  it('--config can come from RP_CONFIG, and rejects unknown keys', () => {
    expect(config('client', [], { RP_CONFIG: file({ 'server-name': 'pipe.example' }) }).serverName).toBe('pipe.example');
    expect(() => config('client', ['--config', file({ nope: 1 })])).toThrow(/unknown key "nope"/);
  });

  it("accepts RestPipe's environment names", () => {
    const client = config('client', [], { RP_CLIENT_TARGET_HOSTNAME: 'hub.example', RP_CLIENT_TARGET_PORT: '4443', RP_EVENT_HANDLER_FQ_CLASS: './h.ts#H' });
    expect(client.servers).toEqual([{ host: 'hub.example', port: 4443 }]);
    expect(client.handler).toBe('./h.ts#H');
    expect(config('server', [], { RP_SERVER_BIND_INTERFACE: '127.0.0.2', RP_SERVER_BIND_PORT: '9999' }).listen).toEqual({ host: '127.0.0.2', port: 9999 });
    expect(config('server', [], { BIND_IP: '10.0.0.1', BIND_PORT: '7' }).listen).toEqual({ host: '10.0.0.1', port: 7 });
    expect(config('server', [], { BIND_PORT: '7' }).listen).toEqual({ host: '0.0.0.0', port: 7 });
    expect(config('server', [], { RP_STATSD_HOST: 'stats', RP_STATSD_PORT: '9125' }).statsd).toEqual({ host: 'stats', port: 9125 });
  });

  it('an empty RP_STATSD_HOST, RP_STATSD=off and --statsd off all mean off', () => {
    expect(config('server', [], { RP_STATSD_HOST: '' }).statsd).toBe('off');
    expect(config('server', [], { RP_STATSD: 'off' }).statsd).toBe('off');
    expect(config('server', ['--statsd', 'off']).statsd).toBe('off');
  });

  it('DEBUG=1 means debug logs and tracebacks; our own RP_ names still win', () => {
    expect(config('client', [], { DEBUG: '1' })).toMatchObject({ logLevel: 'debug', exposeTracebacks: true });
    expect(config('client', [], { DEBUG: '1', RP_LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(config('client', ['--log-level', 'error'], { DEBUG: '1' }).logLevel).toBe('error');
  });

  it('the RP_ name of a flag beats a RestPipe alias for it', () => {
    expect(config('client', [], { RP_SERVER: 'a.example:1', RP_CLIENT_TARGET_HOSTNAME: 'b.example' }).servers).toEqual([{ host: 'a.example', port: 1 }]);
  });

  it('parses unix and off gateways and IPv6 hosts', () => {
    expect(config('server', ['--gateway', 'unix:/run/rp.sock', '--gateway-socket-mode', '0660']).gateway).toEqual({ kind: 'unix', path: '/run/rp.sock', mode: 0o660 });
    expect(config('server', ['--gateway', 'off']).gateway).toEqual({ kind: 'off' });
    expect(config('client', ['--server', '[::1]:1234']).servers).toEqual([{ host: '::1', port: 1234 }]);
  });

  it('names the bad flag', () => {
    expect(() => config('server', ['--max-event-bytes', '0'])).toThrow(/--max-event-bytes/);
    expect(() => config('server', ['--gateway', 'unix:relative.sock'])).toThrow(/absolute/);
    expect(() => config('client', ['--listen', '1.2.3.4:5'])).toThrow(/listen/);
    expect(() => config('client', [], { RP_EXPOSE_TRACEBACKS: 'maybe' })).toThrow(/RP_EXPOSE_TRACEBACKS/);
  });

  it('--ticket-keys-file: flag, then RP_TICKET_KEYS_FILE, then --config, then none; server only', () => {
    const cfg = file({ ticketKeysFile: '/from/config' });
    expect(config('server', []).ticketKeysFile).toBeUndefined();
    expect(config('server', ['--config', cfg]).ticketKeysFile).toBe('/from/config');
    expect(config('server', ['--config', cfg], { RP_TICKET_KEYS_FILE: '/from/env' }).ticketKeysFile).toBe('/from/env');
    expect(config('server', ['--config', cfg, '--ticket-keys-file', '/from/flag'], { RP_TICKET_KEYS_FILE: '/from/env' }).ticketKeysFile).toBe('/from/flag');
    expect(() => config('client', ['--ticket-keys-file', '/x'])).toThrow(/ticket-keys-file/);
  });

  it('--server takes a comma-separated list, from a flag, RP_SERVER or --config', () => {
    expect(config('client', ['--server', 'a.example:1,[::1]:2,10.0.0.3:3']).servers).toEqual([
      { host: 'a.example', port: 1 }, { host: '::1', port: 2 }, { host: '10.0.0.3', port: 3 },
    ]);
    expect(config('client', [], { RP_SERVER: 'a.example:1, b.example:2' }).servers).toEqual([{ host: 'a.example', port: 1 }, { host: 'b.example', port: 2 }]);
    expect(config('client', ['--config', file({ server: 'a.example:1,b.example:2' })]).servers).toHaveLength(2);
    expect(config('client', ['--server', 'a:1,b:2', '--server-name', 'hub.example']).serverName).toBe('hub.example');
  });

  it('a bad part of --server is named', () => {
    expect(() => config('client', ['--server', 'a:1,b'])).toThrow('--server must be HOST:PORT, got "b"');
    expect(() => config('client', ['--server', 'a:1,'])).toThrow('--server must be HOST:PORT, got ""');
    expect(() => config('client', ['--server', 'a:1,b:70000'])).toThrow('--server must be HOST:PORT, got "b:70000"');
    expect(() => config('client', ['--server', 'a:1,b:0'])).toThrow('--server port must be from 1 to 65535, got "b:0"');
    expect(() => config('client', [], { RP_SERVER: 'a:1,::1:2' })).toThrow('--server must be HOST:PORT, got "::1:2"');
    expect(() => config('client', ['--server', 'a:1,b:2,A:1'])).toThrow('--server names A:1 twice');
    const many = Array.from({ length: 17 }, (_, i) => `h${i}:1`).join(',');
    expect(() => config('client', ['--server', many])).toThrow('--server names 17 servers; at most 16');
  });

  it('--help wins over everything else', () => {
    expect(resolveConfig('server', ['--help', '--heartbeat-ms', 'x'], {}).help).toBe(true);
  });
});
