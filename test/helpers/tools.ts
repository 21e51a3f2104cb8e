import { spawnSync } from 'node:child_process';

/**
 * Whether a system tool is present. Locally a missing tool skips its tests with
 * a message; under CI=true the suite must not skip, so it fails instead.
 */
export function hasTool(name: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
  if (!found && process.env['CI'] === 'true') {
    throw new Error(`${name} is required under CI=true; .ci/run installs it`);
  }
  if (!found) console.warn(`skipping: ${name} is not installed (apt-get install ${name})`);
  return found;
}
