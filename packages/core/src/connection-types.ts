import type { IdempotencyGate } from './durable/idempotency-gate.js';
import type { EventHandler } from './event-handler.js';
import type { HoldPort } from './holds/hold-port.js';
import type { Logger } from './logger.js';
import type { ResolvedPipeOptions } from './options.js';
import type { Role } from './role.js';
import type { CloseReason, ConnectionState } from './state.js';
import type { Transport } from './transport.js';

export interface ConnectionInit {
  role: Role;
  transport: Transport;
  options: ResolvedPipeOptions;
  handler: EventHandler;
  /** Increases with every connection the owner accepts or dials. */
  generation: number;
  logger: Logger;
  /** The PipeServer or PipeClient, named in diagnostics. */
  owner: object;
  /** The node's idempotency records (SPEC §8); none with `--data-dir off`. */
  idempotency?: IdempotencyGate | undefined;
  /** The node's holds (SPEC §9); none with `--data-dir off`. With them the Hello says `holds`. */
  holds?: HoldPort | undefined;
}

export interface ConnectionStats {
  readonly eventsIn: number;
  readonly eventsOut: number;
  /** Events this side handled that ended in an exception. */
  readonly errorsIn: number;
  /** Requests this side sent that failed: far-side exceptions, timeouts, failures here. */
  readonly errorsOut: number;
}

/** The events a connection emits, with their arguments. */
export interface ConnectionEvents {
  /** The Hello exchange finished: requests may go both ways. */
  open: [];
  /** Every change of state, after it happened. */
  state: [to: ConnectionState, from: ConnectionState];
  /** The peer sent Goaway. */
  goaway: [reason: string, message: string];
  /** The peer has an outcome for a hold our job waits on (SPEC §9). */
  holdNotice: [hold: string];
  /** Exactly once, when the socket is gone; `wasOpen` tells whether the Hello exchange had finished. */
  close: [reason: CloseReason, error: Error | undefined, wasOpen: boolean];
}

/** What a connection's collaborators read of it; functions, as they change over its life. */
export interface ConnectionView {
  /** The PipeServer or PipeClient, named in diagnostics. */
  readonly owner: object;
  peerName(): string;
  /** Frames other than the Goaway still go out: open or draining. */
  sending(): boolean;
}
