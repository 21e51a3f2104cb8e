import { HelloTimeoutError, PROTOCOL_VERSION, ProtocolError, type Frame, type Hello, type HelloAck } from '@restpipe/wire';
import type { ResolvedPipeOptions } from './options.js';
import type { Role } from './role.js';
import { SOFTWARE } from './version.js';

interface Waiter {
  resolve(frame: Hello | HelloAck): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The first frame each way: the client's Hello and the server's HelloAck, each
 * with the sender's limits. Waits at most `helloTimeoutMs` for the peer's, and
 * accepts only the frame its role expects, at our protocol version.
 */
export class HelloExchange {
  #waiter: Waiter | undefined;

  constructor(
    private readonly role: Role,
    private readonly timeoutMs: number,
    /** The peer took too long; the exchange has already failed with `error`. */
    private readonly onTimeout: (error: Error) => void,
  ) {}

  /** What this side announces. */
  static own(options: ResolvedPipeOptions, holds: boolean): Hello {
    return {
      protocolVersion: PROTOCOL_VERSION,
      software: SOFTWARE,
      heartbeatMs: options.heartbeatMs,
      maxEventBytes: options.maxEventBytes,
      maxInFlight: options.maxInFlight,
      maxConcurrency: options.maxConcurrency,
      maxInboundBytes: options.maxInboundBytes,
      // Every restpipe since SPEC §8 understands the key: with --data-dir off it answers 501, never ignores it.
      idempotencyKeys: true,
      // With a data directory this node keeps jobs: it can wait on a peer's hold (SPEC §9).
      ...(holds ? { holds: true } : {}),
      // This node takes streams (SPEC §12), each granted this window at first.
      streamWindow: options.streamWindowBytes,
    };
  }

  /** Resolves with the peer's Hello (server) or HelloAck (client). */
  wait(): Promise<Hello | HelloAck> {
    const expected = this.role === 'server' ? 'Hello from the client' : 'HelloAck from the server';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new HelloTimeoutError(`no ${expected} in time`);
        this.fail(error);
        this.onTimeout(error);
      }, this.timeoutMs);
      this.#waiter = { resolve, reject, timer };
    });
  }

  /** The peer's first frame (not a Goaway): undefined when accepted, else the ProtocolError to close with. */
  accept(frame: Frame): ProtocolError | undefined {
    const expected = this.role === 'server' ? 'hello' : 'helloAck';
    if (frame.kind !== expected) return new ProtocolError(`expected ${expected} first, got ${frame.kind}`);
    const hello = frame.kind === 'hello' ? frame.hello : frame.kind === 'helloAck' ? frame.helloAck : undefined;
    if (!hello || hello.protocolVersion !== PROTOCOL_VERSION) {
      return new ProtocolError(`unsupported protocol version ${hello?.protocolVersion}`);
    }
    this.#settle(hello);
    return undefined;
  }

  /** Ends the wait with an error (Goaway, closed, timed out); nothing if it already ended. */
  fail(error: Error): void {
    this.#settle(error);
  }

  #settle(outcome: Hello | HelloAck | Error): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    clearTimeout(waiter.timer);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }
}
