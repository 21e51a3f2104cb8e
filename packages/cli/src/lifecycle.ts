/**
 * What signals and escaped errors do to an rp-server or rp-client process.
 *
 * Installed first, before anything slow in start-up (reading files, a handler's
 * init(), binding ports): Node's default for SIGHUP, SIGTERM and SIGINT is to
 * kill the process, so a `systemctl reload` during start-up would stop it.
 *
 * Signals: SIGHUP reloads certificates; before the node is up it is logged and
 * remembered, and one reload runs once started (the files may have changed since
 * start-up read them). SIGTERM/SIGINT drain (at most DEFAULT_DRAIN_TIMEOUT_MS,
 * then exit 0); before the node is up the drain starts as soon as it is; a second
 * one exits at once, 1.
 *
 * Errors: a handler's error or a peer's bad input never gets here (handle-event.ts
 * and the connection catch them). What does get here, an `uncaughtException` or an
 * `unhandledRejection`, is a bug: in restpipe, or in a handler's code running
 * outside the call restpipe made (a timer, a promise nobody awaits). The process
 * state can no longer be trusted, so: log it as fatal with its stack, drain as
 * above, and exit 1, for systemd (Restart=always) to start a fresh process.
 * Both are treated alike, as Node itself does by default since v15. A second
 * fatal error, or one during start-up, exits at once.
 */
import { DEFAULT_DRAIN_TIMEOUT_MS } from '@restpipe/core';
import type { Logger } from 'pino';
import { takeHeldSignals } from './early-signals.js';

export const EXIT_FAILURE = 1;
/** Past the drain's own deadline, the process exits whatever is still running. */
const HARD_STOP_MS = DEFAULT_DRAIN_TIMEOUT_MS + 2_000;

/** What the process does once the node is up. */
export interface NodeActions {
  reload(): void;
  /** Stops accepting, tells peers Goaway, waits for in-flight events (bounded), closes. */
  drain(): Promise<void>;
}

export class Lifecycle {
  #actions: NodeActions | undefined;
  #reloadPending = false;
  /** The exit code of a stop asked for before the node was up. */
  #stopPending: number | undefined;
  #stopping = false;

  constructor(
    private readonly logger: Logger,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
  ) {
    process.on('SIGHUP', () => this.#reload());
    process.on('SIGTERM', (signal) => this.#signalled(signal));
    process.on('SIGINT', (signal) => this.#signalled(signal));
    process.on('uncaughtException', (error, origin) => this.#fatal(error, origin));
    process.on('unhandledRejection', (reason) => this.#fatal(reason, 'unhandledRejection'));
    // Signals that came while the CLI was still loading (early-signals.ts).
    for (const signal of takeHeldSignals()) {
      if (signal === 'SIGHUP') this.#reload();
      else this.#signalled(signal);
    }
  }

  /** The node is up: signals act on it now, and whatever came during start-up is done. */
  started(actions: NodeActions): void {
    this.#actions = actions;
    if (this.#stopPending !== undefined) {
      this.logger.info({ timeoutMs: DEFAULT_DRAIN_TIMEOUT_MS }, 'draining, as a signal asked during start-up');
      return this.#stop(this.#stopPending);
    }
    if (this.#reloadPending) {
      this.#reloadPending = false;
      actions.reload();
    }
  }

  /**
   * Start-up failed: exit with `code` now. Whatever did start (the pipe may be
   * listening already) would otherwise keep a process running that serves nothing.
   */
  startFailed(code: number): void {
    this.exit(code);
  }

  #reload(): void {
    if (this.#actions) return this.#actions.reload();
    this.#reloadPending = true;
    this.logger.info({ signal: 'SIGHUP' }, 'SIGHUP during start-up: certificates are reloaded once started');
  }

  #signalled(signal: NodeJS.Signals): void {
    if (this.#stopping || this.#stopPending !== undefined) {
      this.logger.warn({ signal }, 'second signal: exiting now');
      return this.exit(EXIT_FAILURE);
    }
    if (this.#actions) {
      this.logger.info({ signal, timeoutMs: DEFAULT_DRAIN_TIMEOUT_MS }, 'draining');
      return this.#stop(0);
    }
    this.#stopPending = 0;
    this.logger.info({ signal }, 'signal during start-up: draining once started');
  }

  #fatal(error: unknown, origin: string): void {
    const err = error instanceof Error ? error.stack ?? error.message : String(error);
    this.logger.fatal({ err, origin }, `${origin}: internal error; draining and exiting ${EXIT_FAILURE}`);
    if (this.#stopping || !this.#actions) return this.exit(EXIT_FAILURE);
    this.#stop(EXIT_FAILURE);
  }

  #stop(code: number): void {
    this.#stopping = true;
    setTimeout(() => this.exit(code), HARD_STOP_MS).unref();
    void this.#actions!.drain()
      .catch((error: Error) => this.logger.error({ err: error.message }, 'drain failed'))
      .finally(() => {
        this.logger.info({ exitCode: code }, 'stopped');
        this.exit(code);
      });
  }
}
