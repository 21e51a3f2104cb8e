/**
 * `npm run bench:chart`: draws docs/benchmarks.svg again from bench/results/, without running
 * a benchmark (`npm run bench` draws it after each run).
 */
import { writeChart } from './chart-files.js';

process.stdout.write(`chart: ${writeChart()}\n`);
