import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { ConfigError, DefaultHandler, EventHandler, type Role } from '@restpipe/core';

let hookRegistered = false;

/** Lets handler files outside this install import 'restpipe'. */
function registerRestpipeFallback(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  register(new URL('./resolve-hook.js', import.meta.url), {
    data: { restpipeUrl: import.meta.resolve('restpipe') },
  });
}

/** `./h.ts#MyHandler` -> module `./h.ts`, export `MyHandler` (default: `default`). */
export function splitHandlerSpec(spec: string): { module: string; exportName: string } {
  const hash = spec.lastIndexOf('#');
  if (hash < 0) return { module: spec, exportName: 'default' };
  return { module: spec.slice(0, hash), exportName: spec.slice(hash + 1) || 'default' };
}

/**
 * Loads the user's EventHandler from a .ts, .js or .mjs file (TypeScript through
 * tsx, no build step) or a package name. No spec: the built-in default handler.
 */
export async function loadHandler(spec: string | undefined, role: Role, cwd = process.cwd()): Promise<EventHandler> {
  if (!spec) return new DefaultHandler(role);
  const { module, exportName } = splitHandlerSpec(spec);
  const isPath = module.startsWith('.') || isAbsolute(module);
  const file = isPath ? resolvePath(cwd, module) : undefined;
  if (file && !existsSync(file)) throw new ConfigError(`--handler file ${file} does not exist`);
  registerRestpipeFallback();
  let namespace: Record<string, unknown>;
  try {
    namespace = (await tsImport(file ? pathToFileURL(file).href : module, pathToFileURL(`${cwd}/`).href)) as Record<string, unknown>;
  } catch (error) {
    const first = (error as Error).message.split('\n')[0] ?? '';
    const hint = /Cannot find (module|package) 'restpipe'/.test(first)
      ? ' (install restpipe in the handler\'s project, or make the file ESM: name it .mts or put "type": "module" in its package.json)'
      : '';
    throw new ConfigError(`--handler ${spec} failed to load: ${first}${hint}`);
  }
  return instantiate(spec, exportName, namespace);
}

function instantiate(spec: string, exportName: string, namespace: Record<string, unknown>): EventHandler {
  let exported = namespace[exportName];
  // A CommonJS or doubly wrapped default export.
  if (exportName === 'default' && exported && typeof exported === 'object' && 'default' in exported && !(exported instanceof EventHandler)) {
    exported = (exported as { default: unknown }).default;
  }
  if (exported === undefined) {
    const names = Object.keys(namespace).join(', ') || 'none';
    throw new ConfigError(`--handler ${spec}: no export named ${exportName} (exports: ${names})`);
  }
  try {
    const handler = typeof exported === 'function' ? new (exported as new () => unknown)() : exported;
    if (!handler || typeof handler !== 'object') throw new Error('it is not a class or an object');
    return handler as EventHandler;
  } catch (error) {
    throw new ConfigError(`--handler ${spec}: cannot make a handler from ${exportName}: ${(error as Error).message}`);
  }
}
