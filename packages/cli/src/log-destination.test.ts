import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BatchedStdout } from './log-destination.js';

const turn = () => new Promise((r) => setTimeout(r, 30));
const line = (i: number) => `{"n":${i},"pad":"${'x'.repeat(1000)}"}\n`;

describe('BatchedStdout', () => {
  it('writes lines together a few ms later, in order, and flushSync writes at once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'rp-log-')), 'out.log');
    const fd = openSync(file, 'w');
    const out = new BatchedStdout(fd);
    out.write('a\n');
    out.write('b\n');
    expect(readFileSync(file, 'utf8')).toBe('');
    await turn();
    expect(readFileSync(file, 'utf8')).toBe('a\nb\n');
    out.write('c\n');
    out.flushSync();
    expect(readFileSync(file, 'utf8')).toBe('a\nb\nc\n');
    closeSync(fd);
  });

  it('keeps every line, in order, when a non-blocking pipe is full (EAGAIN), and delivers them as it drains', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'rp-log-')), 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const out = new BatchedStdout(writer);
    const expected = Array.from({ length: 300 }, (_, i) => line(i)).join(''); // ~300 KB, past a 64 KB pipe
    for (let i = 0; i < 300; i++) out.write(line(i));
    out.flushSync();
    let got = '';
    const chunk = Buffer.alloc(65536);
    for (let tries = 0; got.length < expected.length && tries < 500; tries++) {
      try {
        const n = readSync(reader, chunk);
        got += chunk.toString('utf8', 0, n);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    expect(got.length).toBe(expected.length);
    expect(got === expected).toBe(true);
    expect(out.dropped).toBe(0);
    closeSync(writer);
    closeSync(reader);
  });

  it('drops lines without throwing once the reader of stdout is gone (EPIPE)', async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), 'rp-log-')), 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(reader);
    const out = new BatchedStdout(writer);
    out.write('lost\n');
    expect(() => out.flushSync()).not.toThrow();
    out.write('also lost\n');
    await turn();
    expect(out.dropped).toBe(1);
    closeSync(writer);
  });
});
