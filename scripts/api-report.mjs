#!/usr/bin/env node
/**
 * The API report of `restpipe` (issue 12, item 7): every name the package exports,
 * with its kind, read by the TypeScript compiler from the entry point, into
 * `packages/restpipe/api-report.md`.
 *
 *     node scripts/api-report.mjs          # rewrite the report from src/index.ts (npm run api-report)
 *     node scripts/api-report.mjs --check  # exit 1 if the report differs from src/index.ts
 *     node scripts/api-report.mjs --dist   # the same from the built dist/index.d.ts (npx tsc -b first)
 *
 * From the sources, `@restpipe/*` resolves to `packages/*\/src/index.ts`, so no build
 * is needed; `packages/restpipe/src/api-report.test.ts` compares that with the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const REPORT = join(ROOT, 'packages/restpipe/api-report.md');
const SOURCE_ENTRY = join(ROOT, 'packages/restpipe/src/index.ts');
const DIST_ENTRY = join(ROOT, 'packages/restpipe/dist/index.d.ts');

/** The kinds a name can have, in the order the report names them. */
const KINDS = [
  [ts.SymbolFlags.Class, 'class'],
  [ts.SymbolFlags.Function, 'function'],
  [ts.SymbolFlags.Enum, 'enum'],
  [ts.SymbolFlags.Variable, 'const'],
  [ts.SymbolFlags.Interface, 'interface'],
  [ts.SymbolFlags.TypeAlias, 'type'],
  [ts.SymbolFlags.Namespace, 'namespace'],
];

function compilerOptions(fromSource) {
  const { config } = ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
  const paths = fromSource ? { '@restpipe/*': [join(ROOT, 'packages/*/src/index.ts')] } : undefined;
  return { ...options, noEmit: true, composite: false, declaration: false, declarationMap: false, ...(paths ? { paths } : {}) };
}

/** Exported with `export type { X }` (or `export { type X }`): no runtime name, whatever X is. */
function isTypeOnlyExport(symbol) {
  return (symbol.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
}

function kindOf(checker, symbol) {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  const kinds = KINDS.filter(([flag]) => target.flags & flag).map(([, name]) => name);
  const runtime = !isTypeOnlyExport(symbol) && (target.flags & ts.SymbolFlags.Value) !== 0;
  return { kind: kinds.join(' + ') || 'unknown', runtime };
}

/** Every export of the entry point, sorted by name: `{ name, kind, runtime }`. */
export function apiExports({ dist = false } = {}) {
  const entry = dist ? DIST_ENTRY : SOURCE_ENTRY;
  const program = ts.createProgram([entry], compilerOptions(!dist));
  // The entry point's own diagnostics: the packages behind it are tsc -b's to check.
  const file = program.getSourceFile(entry);
  const errors = [...program.getOptionsDiagnostics(), ...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]
    .filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    throw new Error(`api-report: ${relative(ROOT, entry)} does not compile:\n${ts.formatDiagnostics(errors.slice(0, 5), {
      getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n',
    })}`);
  }
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(file);
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((symbol) => ({ name: symbol.getName(), ...kindOf(checker, symbol) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The report's text for these exports. */
export function renderReport(exports) {
  const runtime = exports.filter((e) => e.runtime).length;
  return [
    '# restpipe: API report',
    '',
    'Every name `restpipe` exports, with its kind: its whole public API. Written by',
    '`npm run api-report` from `packages/restpipe/src/index.ts`; `src/api-report.test.ts` fails',
    'while this file and that entry point differ. A change here is a change of the public API.',
    '',
    '| name | kind | at runtime |',
    '| --- | --- | --- |',
    ...exports.map((e) => `| \`${e.name}\` | ${e.kind} | ${e.runtime ? 'yes' : 'no (type)'} |`),
    '',
    `${exports.length} names: ${runtime} at runtime, ${exports.length - runtime} types only.`,
    '',
  ].join('\n');
}

function main(args) {
  const text = renderReport(apiExports({ dist: args.includes('--dist') }));
  if (!args.includes('--check')) {
    writeFileSync(REPORT, text);
    console.log(`api-report: wrote ${relative(ROOT, REPORT)}`);
    return;
  }
  let current = '';
  try {
    current = readFileSync(REPORT, 'utf8');
  } catch {
    // no report yet: it differs
  }
  if (current === text) return;
  const lines = (s) => new Set(s.split('\n').filter((l) => l.startsWith('| `')));
  const [now, then] = [lines(text), lines(current)];
  for (const line of then) if (!now.has(line)) console.error(`- ${line}`);
  for (const line of now) if (!then.has(line)) console.error(`+ ${line}`);
  console.error(`api-report: ${relative(ROOT, REPORT)} is out of date: run \`npm run api-report\` and review the change`);
  process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
