import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chartInputs, writeChart } from '../bench/chart-files.js';
import { benchChart, type ChartInputs } from '../bench/chart-panels.js';
import { escapeXml, renderBarChart, type BarChart } from '../bench/svg-bars.js';

const bars = (svg: string): string[] => svg.match(/<rect class="bar"[^>]*>/g) ?? [];
const widthOf = (rect: string): number => Number(/width="([^"]+)"/.exec(rect)?.[1]);

const run = { started: '2026-12-01T10:00:00.000Z', machine: { cpu: 'Test CPU', cores: 2, node: 'v20' }, runs: 3, seconds: 3 };
const load = (target: string, payload: string, connections: number, reqPerSec: number, p50Ms = 1) =>
  ({ target, payload, connections, reqPerSec, p50Ms, p99Ms: 2 * p50Ms, mbPerSec: 1, errors: 0 });

const main: NonNullable<ChartInputs['main']> = {
  ...run,
  file: 'main.json',
  full: [
    load('bare Fastify', 'tiny GET', 1, 4000, 0.25),
    load('restpipe', 'tiny GET', 1, 2000, 0.5),
    load('bare Fastify', 'tiny GET', 64, 5000),
    load('restpipe', 'tiny GET', 64, 4500),
    load('ssh -R', 'tiny GET', 64, 4000),
    load('bare Fastify', '64 KiB echo', 64, 2000),
    load('restpipe', '64 KiB echo', 64, 500),
  ],
  pipe: [
    { target: 'raw TLS echo', inFlight: 64, reqPerSec: 200_000, p50Ms: 0.2, p99Ms: 0.5 },
    { target: 'restpipe', inFlight: 64, reqPerSec: 100_000, p50Ms: 0.4, p99Ms: 0.9 },
  ],
  scale: {
    clients: 1000, restpipeKbPerConnection: 48, tlsFloorKbPerConnection: 32, tlsFloorAfterDataKbPerConnection: 29,
    reconnectFullMs: 8000, reconnectResumedMs: 5000, resumedCount: 1000, activeClients: 100, activeReqPerSec: 12_000,
  },
};

describe('the benchmark chart', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('escapes text for XML and drops what XML cannot hold', () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
    expect(escapeXml('bell\u0007 nul\u0000 tab\t')).toBe('bell nul tab\t');
  });

  it('draws one bar per figure, labels as text, never as markup', () => {
    const chart: BarChart = {
      title: 'T & <co>',
      notes: ['a "note"'],
      panels: [
        {
          title: '<script>alert(1)</script>',
          notes: [],
          reference: 1,
          bars: [
            { label: 'restpipe <b>', value: 0.5, text: '0.50x', kind: 'restpipe' },
            { label: "it's", value: 1, text: '1.00x', kind: 'baseline', gapBefore: true },
            { label: 'missing', value: Number.NaN, text: '-', kind: 'other' },
          ],
        },
        { title: 'second', notes: [], bars: [{ label: 'x', value: 3, text: '3', kind: 'other' }] },
      ],
    };
    const svg = renderBarChart(chart);
    expect(bars(svg)).toHaveLength(4);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).toContain('T &amp; &lt;co&gt;');
    expect(svg).toContain('it&apos;s');
    // Each panel to its own largest value: 0.5 of 1 is half the bar the 1 gets; NaN gets none.
    const [half, whole, none, alone] = bars(svg).map(widthOf);
    expect(half! * 2).toBeCloseTo(whole!, 0);
    expect(none).toBe(0);
    expect(alone).toBe(whole);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('makes each result a bar, as a ratio to its floor with the figure beside it', () => {
    const chart = benchChart({ main });
    const counts = chart.panels.map((p) => [p.title.split(':')[0], p.bars.length]);
    // c64: 3 tiny GET targets and 2 echo; c1: 2; pipe: 2; memory: 3.
    expect(counts).toEqual([
      ['Full path, 64 connections', 5],
      ['Full path, one tiny GET at a time', 2],
      ['Pipe only (the library API, no HTTP)', 2],
      ['Server RSS per idle connection, 1000 clients', 3],
    ]);
    const full = chart.panels[0]!.bars;
    expect(full.map((b) => b.label)).toEqual(['tiny GET: restpipe', 'tiny GET: ssh -R', 'tiny GET: bare Fastify', '64 KiB echo: restpipe', '64 KiB echo: bare Fastify']);
    expect(full[0]).toMatchObject({ value: 0.9, text: '0.90x (4500 req/s)', kind: 'restpipe' });
    expect(full[2]).toMatchObject({ value: 1, kind: 'baseline' });
    expect(chart.panels[1]!.bars[0]).toMatchObject({ value: 2, text: '2.00x (0.50 ms)' });
    expect(bars(renderBarChart(chart))).toHaveLength(12);
  });

  it('takes the newest results file of each part, and skips one that is not JSON', () => {
    const root = mkdtempSync(join(tmpdir(), 'rp-chart-'));
    dirs.push(root);
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    mkdirSync(join(root, 'docs'));
    const older = { ...main, full: main.full.map((r) => ({ ...r, reqPerSec: 1 })) };
    const write = (name: string, value: unknown) => writeFileSync(join(root, 'bench/results', name), JSON.stringify(value));
    write('2026-11-01T00-00-00-000Z.json', older);
    write('2026-12-01T00-00-00-000Z.json', main);
    write('2026-12-02T00-00-00-000Z-holds.json', { ...run, holds: {} });
    writeFileSync(join(root, 'bench/results/2026-12-03T00-00-00-000Z.json'), '{not json');
    const inputs = chartInputs(join(root, 'bench/results'));
    expect(inputs.main?.file).toBe('2026-12-01T00-00-00-000Z.json');
    expect(inputs.jobs).toBeUndefined();
    const svg = readFileSync(writeChart(root), 'utf8');
    expect(bars(svg)).toHaveLength(12);
    expect(svg).toContain('From bench/results/2026-12-01T00-00-00-000Z.json: medians of 3 runs of 3 s.');
  });
});
