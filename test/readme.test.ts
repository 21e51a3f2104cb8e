import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLAGS } from '../packages/cli/src/flags.js';
import { ROOT } from './helpers/cli.js';

const readme = readFileSync(`${ROOT}README.md`, 'utf8');

describe('README', () => {
  it('opens with the two commands for a fresh machine', () => {
    const commands = readme.split('\n').filter((l) => l.startsWith('    ')).slice(0, 2).map((l) => l.trim());
    expect(commands).toEqual(['npm install && npm start', 'npm install && npm test']);
  });

  it('documents every flag the CLIs accept', () => {
    const missing = FLAGS.map((f) => `--${f.name}`).filter((flag) => !readme.includes(flag));
    expect(missing).toEqual([]);
  });
});
