import { readCrl } from '@restpipe/certs';
import { ConfigError, type Logger, type TlsMaterial } from '@restpipe/core';

/** How early before nextUpdate the node starts warning. */
export const CRL_WARN_DAYS = 7;
const DAY_MS = 86_400_000;
const WARN_EVERY_MS = 3_600_000;
/**
 * OpenSSL is given the CRL only while it stays valid this much longer: the CRL is taken
 * away from it before nextUpdate, so no handshake ever meets CRL_HAS_EXPIRED.
 */
const OPENSSL_MARGIN_MS = 60_000;
/** setTimeout's largest delay; a later moment is reached in several steps. */
const MAX_TIMER_MS = 2_147_483_647;

/** What `/_rp/health` shows about the CRL. */
export interface CrlHealth {
  nextUpdate: string;
  expired: boolean;
}

/** A parsed `--crl` file. */
export interface LoadedCrl {
  readonly file: string;
  readonly revoked: ReadonlySet<string>;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
}

export function parseCrl(file: string, pem: string): LoadedCrl {
  try {
    const { entries, thisUpdate, nextUpdate } = readCrl(pem);
    return { file, revoked: new Set(entries.map((e) => e.serialHex)), thisUpdate, nextUpdate };
  } catch (error) {
    throw new ConfigError(`--crl file ${file} is not a valid CRL (${(error as Error).message})`);
  }
}

/** `{nextUpdate, expired}` for any CRL that names a nextUpdate. */
export function crlHealth(crl: LoadedCrl | undefined, now = Date.now()): CrlHealth | undefined {
  if (!crl?.nextUpdate) return undefined;
  return { nextUpdate: crl.nextUpdate.toISOString(), expired: crl.nextUpdate.getTime() <= now };
}

/** The health when it deserves a warning: past nextUpdate, or within CRL_WARN_DAYS of it. */
export function crlWarning(crl: LoadedCrl | undefined, now = Date.now()): CrlHealth | undefined {
  const health = crlHealth(crl, now);
  if (!health || crl!.nextUpdate!.getTime() - now > CRL_WARN_DAYS * DAY_MS) return undefined;
  return health;
}

/** Whether OpenSSL may check this CRL itself: it refuses every handshake with one outside its dates. */
export function openSslMayUse(crl: LoadedCrl, now = Date.now()): boolean {
  if (crl.thisUpdate.getTime() > now) return false;
  return !crl.nextUpdate || crl.nextUpdate.getTime() - now > OPENSSL_MARGIN_MS;
}

/** A CRL read and judged: what OpenSSL gets, and what PipeServer refuses itself. */
export interface PreparedTls {
  /** As loaded from the files, CRL included. */
  readonly material: TlsMaterial;
  readonly crl: LoadedCrl | undefined;
  /** For OpenSSL: without the CRL when OpenSSL would refuse every handshake for it. */
  readonly tls: TlsMaterial;
  readonly revoked: ReadonlySet<string>;
}

export function prepareTls(file: string | undefined, material: TlsMaterial, now = Date.now()): PreparedTls {
  const crl = material.crl ? parseCrl(file ?? '--crl', String(material.crl)) : undefined;
  const tls = !crl || openSslMayUse(crl, now) ? material : { ...material, crl: undefined };
  return { material, crl, tls, revoked: crl?.revoked ?? new Set() };
}

/**
 * Keeps a node's CRL enforced whatever its dates. Revoked serials are always checked by
 * PipeServer on accept (resumed sessions too); OpenSSL also gets the CRL while it is fresh,
 * and loses it just before nextUpdate (`onStale` is then given the material to re-apply).
 * Warns at each commit and every hour, from CRL_WARN_DAYS before nextUpdate on.
 */
export class CrlGuard {
  #current: PreparedTls | undefined;
  #warnTimer: NodeJS.Timeout | undefined;
  #staleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly logger: Logger,
    private readonly onStale: (prepared: PreparedTls) => void,
  ) {}

  /** Reads and judges the CRL in `material`; throws ConfigError, changing nothing, if it is bad. */
  prepare(material: TlsMaterial): PreparedTls {
    return prepareTls(this.file, material);
  }

  /** Makes `prepared` current, once the server took it: warns now and re-arms the timers. */
  commit(prepared: PreparedTls): void {
    this.#current = prepared;
    this.#warn();
    this.#warnTimer ??= setInterval(() => this.#warn(), WARN_EVERY_MS).unref();
    this.#armStaleTimer();
  }

  health(): CrlHealth | undefined {
    return crlHealth(this.#current?.crl);
  }

  stop(): void {
    clearInterval(this.#warnTimer);
    clearTimeout(this.#staleTimer);
  }

  #warn(): void {
    const crl = this.#current?.crl;
    const warning = crlWarning(crl);
    if (!warning) return;
    const msg = warning.expired
      ? 'CRL is past its nextUpdate: still enforced (revoked serials are refused, everyone else connects); re-sign it with rp-certs crl, then reload'
      : `CRL nextUpdate is within ${CRL_WARN_DAYS} days; re-sign it with rp-certs crl, then reload`;
    this.logger.warn({ crlFile: crl!.file, ...warning }, msg);
  }

  /** While OpenSSL has the CRL, takes it away just before nextUpdate. */
  #armStaleTimer(): void {
    clearTimeout(this.#staleTimer);
    const current = this.#current;
    if (!current?.crl?.nextUpdate || current.tls.crl === undefined) return;
    const delay = current.crl.nextUpdate.getTime() - OPENSSL_MARGIN_MS - Date.now();
    this.#staleTimer = setTimeout(() => {
      if (this.#current !== current) return;
      const again = prepareTls(this.file, current.material);
      if (again.tls.crl !== undefined) return this.#armStaleTimer();
      this.#current = again;
      this.logger.info({ crlFile: current.crl!.file, nextUpdate: current.crl!.nextUpdate!.toISOString() }, 'CRL nearly past its nextUpdate: OpenSSL no longer checks it; restpipe still refuses its serials');
      try {
        this.onStale(again);
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'could not take the stale CRL away from OpenSSL');
      }
    }, Math.min(Math.max(delay, 0), MAX_TIMER_MS)).unref();
  }
}
