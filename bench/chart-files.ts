/**
 * docs/benchmarks.svg from bench/results/: for each part of the bench, the newest results file
 * that has it (a full run has full, pipe and scale, and jobs since it measures them; each
 * BENCH_ONLY run writes a file of its own). No benchmark runs here.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchChart, type ChartInputs } from './chart-panels.js';
import { renderBarChart } from './svg-bars.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CHART = 'docs/benchmarks.svg';

type Results = Record<string, unknown> & { file: string };

/** Every results file, newest first (their names begin with the run's ISO time). */
function readResults(dir: string): Results[] {
  const names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort().reverse();
  const results: Results[] = [];
  for (const name of names) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) results.push({ ...(parsed as Record<string, unknown>), file: name });
      else process.stderr.write(`bench chart: ${name} is not a results object; skipped\n`);
    } catch (error) {
      process.stderr.write(`bench chart: ${name} skipped: ${(error as Error).message}\n`);
    }
  }
  return results;
}

/** The newest results that have every one of `keys`, as the chart's input of that part. */
function newest<T>(results: Results[], keys: string[]): T | undefined {
  return results.find((r) => keys.every((k) => r[k] !== undefined && r[k] !== null)) as T | undefined;
}

export function chartInputs(dir: string): ChartInputs {
  const results = readResults(dir);
  const inputs: ChartInputs = {};
  const main = newest<ChartInputs['main']>(results, ['full', 'pipe', 'scale']);
  const jobs = newest<ChartInputs['jobs']>(results, ['jobs']);
  const stream = newest<ChartInputs['stream']>(results, ['stream']);
  const cluster = newest<ChartInputs['cluster']>(results, ['cluster']);
  if (main) inputs.main = main;
  if (jobs) inputs.jobs = jobs;
  if (stream) inputs.stream = stream;
  if (cluster) inputs.cluster = cluster;
  return inputs;
}

/** Writes the chart and returns its path. */
export function writeChart(root = ROOT): string {
  const out = join(root, CHART);
  writeFileSync(out, renderBarChart(benchChart(chartInputs(join(root, 'bench/results')))));
  return out;
}
