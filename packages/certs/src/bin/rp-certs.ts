import { parseArgs } from 'node:util';
import { CertsError } from '@restpipe/errors';
import { initCa, issue, readText } from '../certs-dir.js';
import { DEFAULT_CRL_DAYS } from '../crl.js';
import { DEFAULT_CA_DAYS, DEFAULT_LEAF_DAYS } from '../identity.js';
import { NAME_PATTERN } from '../names.js';
import { resignCrl, revoke } from '../revocation.js';
import { describePem } from '../show.js';

const HELP = `rp-certs: make restpipe identities (node-forge)

usage:
  rp-certs init   [--dir certs] [--days ${DEFAULT_CA_DAYS}]                      -> ca.key.pem ca.crt.pem ca.crl.pem
  rp-certs server NAME [--dir certs] [--san DNS:x,IP:1.2.3.4] [--days ${DEFAULT_LEAF_DAYS}]
  rp-certs client NAME [--dir certs] [--days ${DEFAULT_LEAF_DAYS}]
  rp-certs revoke NAME [--dir certs] [--days ${DEFAULT_CRL_DAYS}]                    -> updates ca.crl.pem
  rp-certs revoke --serial HEX [--dir certs] [--days ${DEFAULT_CRL_DAYS}]            -> updates ca.crl.pem
  rp-certs crl    [--dir certs] [--days ${DEFAULT_CRL_DAYS}]                         -> re-signs ca.crl.pem
  rp-certs show FILE                                                -> subject, SANs, EKU, validity, fingerprint

Every certificate issued is recorded in DIR/index.json (name, serial, notAfter).
revoke NAME revokes every certificate ever issued for NAME (re-issued ones too);
revoke --serial revokes one. crl signs the CRL again with the same entries and a
new nextUpdate: run it well before nextUpdate (weekly, say), then reload rp-server.

flags:
  --dir DIR      where files are read and written (default: certs)
  --days N       validity in days (default: ${DEFAULT_CA_DAYS} for init, ${DEFAULT_LEAF_DAYS} for server/client,
                 ${DEFAULT_CRL_DAYS} for the CRL that revoke and crl sign)
  --serial HEX   revoke: the certificate serial (any case, leading zeros optional)
  --san LIST     server SANs, comma-separated DNS:name / IP:addr
                 (default: DNS:NAME,DNS:localhost,IP:127.0.0.1)
  --force        overwrite existing files (default: off)
  -h, --help     this text

NAME must match ${NAME_PATTERN.source}. Keys are written with mode 0600.
`;

class UsageError extends CertsError {}

function main(argv: string[]): number {
  const { values, positionals } = parse(argv);
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  const [command, name] = positionals;
  const dir = values.dir;
  const days = values.days === undefined ? undefined : positiveDays(values.days);
  const force = values.force;
  const written = run(command!, { name, dir, days, force, san: values.san, serial: values.serial });
  for (const line of written) process.stdout.write(`${line}\n`);
  return 0;
}

interface RunOptions {
  name: string | undefined;
  dir: string;
  days: number | undefined;
  force: boolean;
  san: string | undefined;
  serial: string | undefined;
}

function run(command: string, o: RunOptions): string[] {
  switch (command) {
    case 'init':
      return initCa({ dir: o.dir, days: o.days, force: o.force }).map((f) => `wrote ${f}`);
    case 'server':
    case 'client': {
      const san = command === 'server' && o.san ? o.san.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
      return issue(command, { dir: o.dir, name: o.name ?? '', days: o.days, force: o.force, san }).map((f) => `wrote ${f}`);
    }
    case 'revoke':
      return revokeLines(o);
    case 'crl': {
      const { file, revoked, nextUpdate } = resignCrl({ dir: o.dir, days: o.days });
      return [`re-signed ${file}: ${revoked} revoked, next update ${nextUpdate.toISOString()}`];
    }
    case 'show':
      if (!o.name) throw new UsageError('show needs a FILE');
      return describePem(readText(o.name));
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}; see rp-certs --help`);
  }
}

function revokeLines(o: RunOptions): string[] {
  if (o.serial === undefined && o.name === undefined) throw new UsageError('revoke needs a NAME or --serial HEX');
  const { file, serials, notes } = revoke({ dir: o.dir, name: o.name, serial: o.serial, days: o.days });
  const who = o.name ?? 'serial';
  // Notes go to stderr: a script reading stdout sees only what was done.
  for (const note of notes) process.stderr.write(`rp-certs: note: ${note}\n`);
  return [...serials.map((s) => `revoked ${who} ${s}`), `updated ${file}`];
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: 'string', default: 'certs' },
        days: { type: 'string' },
        san: { type: 'string' },
        serial: { type: 'string' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function positiveDays(text: string): number {
  const days = Number(text);
  if (!Number.isInteger(days) || days <= 0) throw new UsageError(`--days must be a positive whole number, got ${JSON.stringify(text)}`);
  return days;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`rp-certs: ${message}\n`);
  process.exitCode = error instanceof CertsError ? 2 : 1;
}
