import { spawnSync } from 'node:child_process';

/**
 * Whether a system tool is present. Locally a missing tool skips its tests with
 * a message; under CI=true the suite must not skip, so it fails instead.
 */
export function hasTool(name: string): boolean {
  const found = toolPath(name) !== undefined;
  if (!found && process.env['CI'] === 'true') {
    throw new Error(`${name} is required under CI=true; .ci/run installs it`);
  }
  if (!found) console.warn(`skipping: ${name} is not installed (apt-get install ${name})`);
  return found;
}

/** Where a tool is: on PATH, or in an sbin directory root's PATH may lack. */
export function toolPath(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${name}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}
