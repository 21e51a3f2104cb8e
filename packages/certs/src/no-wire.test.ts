/**
 * Issue 12, item 3: certs gets its errors from the leaf `@restpipe/errors`, so
 * importing it (or running `rp-certs`) never loads wire, and with it protobufjs and
 * the proto file.
 *
 * Each case runs the built dist (`npx tsc -b` first) in a fresh node with a probe
 * preloaded by `--import`. The probe registers a module `load` hook, which sees
 * every ES module, builtin and CommonJS entry the loader loads, and sends each URL
 * back over a MessagePort; at exit it adds `require.cache`, which has every
 * CommonJS file, the ones CommonJS `require`s itself too (node-forge's insides).
 * The same probe on wire must see protobufjs, so an empty answer is no pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ROOT_URL = pathToFileURL(ROOT).href;

const HOOKS = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, next) { port.postMessage(url); return next(url, context); }
`;

const PROBE = `
import { createRequire, register } from 'node:module';
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
port1.unref();
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)}, { data: { port: port2 }, transferList: [port2] });
process.on('exit', () => {
  const urls = [];
  for (let m; (m = receiveMessageOnPort(port1)); ) urls.push(m.message);
  for (const file of Object.keys(createRequire(process.cwd() + '/').cache)) urls.push(pathToFileURL(file).href);
  writeFileSync(process.env.RP_LOADED_OUT, JSON.stringify([...new Set(urls)]));
});
`;

const out = mkdtempSync(join(tmpdir(), 'rp-loaded-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

let runs = 0;
/** The URLs of every module a fresh `node ENTRY ...args` loads, relative to the repository root where they are in it. */
function loaded(entry: string, ...args: string[]): string[] {
  const file = join(ROOT, entry);
  if (!existsSync(file)) throw new Error(`${entry} is missing: run \`npx tsc -b\` first`);
  const report = join(out, `${++runs}.json`);
  const child = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(PROBE)}`, file, ...args], {
    cwd: ROOT,
    env: { ...process.env, RP_LOADED_OUT: report },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(child.status, child.stderr).toBe(0);
  const urls = JSON.parse(readFileSync(report, 'utf8')) as string[];
  return urls.map((url) => (url.startsWith(ROOT_URL) ? url.slice(ROOT_URL.length) : url));
}

const wireOrProtobuf = (url: string) => /(^|\/)(packages\/wire|node_modules\/(@restpipe\/wire|protobufjs|@protobufjs))\//.test(url);

describe('certs without wire', () => {
  it('the probe sees what wire loads: protobufjs and wire itself', () => {
    const urls = loaded('packages/wire/dist/index.js');
    expect(urls).toContain('packages/wire/dist/schema.js');
    expect(urls.some((u) => u.startsWith('node_modules/protobufjs/'))).toBe(true);
    expect(urls).toContain('packages/errors/dist/errors.js');
  });

  it('importing @restpipe/certs loads neither wire nor protobufjs', () => {
    const urls = loaded('packages/certs/dist/index.js');
    expect(urls).toContain('packages/certs/dist/certs-dir.js');
    expect(urls).toContain('packages/errors/dist/errors.js');
    expect(urls.some((u) => u.startsWith('node_modules/node-forge/'))).toBe(true);
    expect(urls.filter(wireOrProtobuf)).toEqual([]);
  });

  it('nor does running rp-certs', () => {
    const urls = loaded('packages/certs/bin/rp-certs.js', '--help');
    expect(urls).toContain('packages/certs/dist/bin/rp-certs.js');
    expect(urls.filter(wireOrProtobuf)).toEqual([]);
  });

  it('@restpipe/errors loads nothing but itself and node builtins', () => {
    const urls = loaded('packages/errors/dist/index.js');
    expect(urls).toContain('packages/errors/dist/brand.js');
    expect(urls.filter((u) => !u.startsWith('packages/errors/dist/') && !u.startsWith('node:'))).toEqual([]);
  });

  it('certs and errors declare no dependency on wire', () => {
    const manifest = (pkg: string) => JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest('certs').dependencies ?? {}).sort()).toEqual(['@restpipe/errors', 'node-forge']);
    expect(manifest('errors').dependencies).toBeUndefined();
  });
});
