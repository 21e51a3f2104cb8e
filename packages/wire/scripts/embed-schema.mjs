#!/usr/bin/env node
/**
 * Embeds the wire schema in @restpipe/wire, which must not read files: a published
 * package has no `proto/` directory. proto/restpipe/v1/pipe.proto stays the source
 * of truth; this parses it with protobufjs, as wire did at import, and writes its
 * JSON descriptor to src/schema-json.ts, which src/schema.ts builds its types from.
 *
 *     npm run embed-schema -w @restpipe/wire            after any change to pipe.proto
 *     npm run embed-schema -w @restpipe/wire -- --check exit 1 if src/schema-json.ts is stale
 *
 * src/schema.test.ts fails whenever the two disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO = 'proto/restpipe/v1/pipe.proto';
const protoPath = fileURLToPath(new URL(`../../../${PROTO}`, import.meta.url));
const outPath = fileURLToPath(new URL('../src/schema-json.ts', import.meta.url));

const descriptor = protobuf.loadSync(protoPath).toJSON();
const text = `// Generated from ${PROTO} by packages/wire/scripts/embed-schema.mjs: do not edit.
// Change the .proto file, then run \`npm run embed-schema -w @restpipe/wire\`.
import type { INamespace } from 'protobufjs';

/** The protobufjs JSON descriptor of ${PROTO}. */
export const SCHEMA_JSON: INamespace = ${JSON.stringify(descriptor, null, 2)};
`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outPath, 'utf8');
  } catch {}
  if (current !== text) {
    console.error(`${outPath} does not match ${PROTO}: run \`npm run embed-schema -w @restpipe/wire\``);
    process.exit(1);
  }
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath}`);
}
