#!/usr/bin/env node
/**
 * Two rules of the tree's shape (issue 12, item 5), in one place:
 *
 * - no import cycle between the modules of `packages/*\/src`, type-only imports
 *   included: madge, as `npx madge --circular --extensions ts --exclude 'dist/'
 *   packages/*\/src` would run it;
 * - no source file over MAX_LINES lines in `packages/*\/src`, `packages/*\/bin`,
 *   `test/`, `bench/`, `examples/` and `scripts/`.
 *
 * `node scripts/check-layout.mjs` (`npm run check:layout`, run by `.ci/run`)
 * prints every offender and exits 1, or prints one line and exits 0.
 * `test/layout.test.ts` runs the same two functions under `npm test`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const MAX_LINES = 500;

const SOURCE = /\.(?:[cm]?ts|[cm]?js)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'results']);

/** `packages/NAME/SUB` for every package that has it. */
function packageDirs(sub, root) {
  return readdirSync(join(root, 'packages'))
    .map((name) => join('packages', name, sub))
    .filter((dir) => isDir(join(root, dir)));
}

function isDir(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) yield* sourceFiles(path);
    } else if (entry.isFile() && SOURCE.test(entry.name)) {
      yield path;
    }
  }
}

function lineCount(text) {
  if (text.length === 0) return 0;
  let lines = text.endsWith('\n') ? 0 : 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines += 1;
  return lines;
}

/** Every source file over `max` lines, as `{ file, lines }` (file relative to `root`), longest first. */
export function oversizedFiles(root = ROOT, max = MAX_LINES) {
  const dirs = [...packageDirs('src', root), ...packageDirs('bin', root), 'test', 'bench', 'examples', 'scripts'];
  const found = [];
  for (const dir of dirs.filter((d) => isDir(join(root, d)))) {
    for (const file of sourceFiles(join(root, dir))) {
      const lines = lineCount(readFileSync(file, 'utf8'));
      if (lines > max) found.push({ file: relative(root, file), lines });
    }
  }
  return found.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
}

/** Every import cycle among `packages/*\/src` (each a list of files relative to `root`, the first not repeated). */
export async function importCycles(root = ROOT) {
  const { default: madge } = await import('madge');
  const graph = await madge(packageDirs('src', root).map((dir) => join(root, dir)), {
    baseDir: root,
    fileExtensions: ['ts'],
    excludeRegExp: ['dist/'],
  });
  return graph.circular();
}

async function main() {
  const [cycles, oversized] = [await importCycles(), oversizedFiles()];
  for (const cycle of cycles) console.error(`import cycle: ${[...cycle, cycle[0]].join(' -> ')}`);
  for (const { file, lines } of oversized) console.error(`over ${MAX_LINES} lines: ${file} (${lines})`);
  if (cycles.length > 0 || oversized.length > 0) {
    console.error(`check-layout: ${cycles.length} import cycle(s), ${oversized.length} file(s) over ${MAX_LINES} lines`);
    process.exit(1);
  }
  console.log(`check-layout: no import cycle, no source file over ${MAX_LINES} lines`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
