import { Readable } from 'node:stream';
import { headers, NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import {
  asBuffer,
  ClusterUnavailableError,
  encodeBody,
  isStreamSource,
  toReadable,
  NOBODY,
  PeerDisconnectedError,
  ProtocolError,
  responseFromReply,
  saneRequestId,
  type PipeRequest,
  type PipeResponse,
} from '@restpipe/core';
import { decodeReply, encodeRequest, errorOf } from './codec.js';
import { countCluster } from './cluster-diagnostics.js';
import { ForwardStreams } from './forward-streams.js';
import { longRequest, type LongRequest } from './long-request.js';
import { tooLarge } from './payload-room.js';
import type { RelayStreams } from './relay-streams.js';
import type { Presence } from './presence.js';
import { clientSubject } from './subjects.js';

/** Past the request's own deadline, the holder's 504 has this long to come back before the holder counts as lost. */
export const HOLDER_SLACK_MS = 2_000;
export const H_ORIGIN = 'Rp-Origin';
export const H_HOPS = 'Rp-Hops';
export const H_ID = 'Rp-Id';
export const H_STATUS = 'Rp-Status';

export interface ForwarderOptions {
  readonly owner: object;
  readonly self: string;
  /** When this process joined: with a counter, an id no restart of this node repeats. */
  readonly since: string;
  readonly presence: Presence;
  readonly defaultTimeoutMs: number;
  /** The connection, while it is up. */
  connection(): NatsConnection | undefined;
  /** This node keeps jobs (a data directory): it may take a HELD reply (SPEC §9). */
  takesHolds(): boolean;
  /** The streams this node relays (SPEC §12): a forwarded request's streamed body and reply. */
  readonly relay: RelayStreams;
  /** Tells the holder that the caller of request `id` hung up. Never throws. */
  cancel(id: string): void;
}

interface InFlight {
  readonly name: string;
  /** The node that held the name when the request went: undefined when none was known. */
  readonly holder: string | undefined;
  readonly fail: (error: Error) => void;
}

/**
 * The sending side of a forwarded request (SPEC §11): one NATS request to the subject of
 * the name at the node holding its newest claim, with the deadline, request id, origin and
 * a hop count of 1. No holder known, or "no responders", is NOBODY (try again); a holder
 * lost mid-request (it stopped beating, or the name moved on) fails its requests with 502
 * at once, without waiting for their deadlines.
 */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #inFlight = new Set<InFlight>();
  #nextId = 0;

  constructor(options: ForwarderOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  async forward(name: string, request: PipeRequest): Promise<PipeResponse | typeof NOBODY> {
    const nc = this.#options.connection();
    if (!nc) return NOBODY;
    const timeoutMs = request.timeoutMs ?? this.#options.defaultTimeoutMs;
    let data: Buffer;
    try {
      data = encodeRequest(request, timeoutMs, saneRequestId(request.requestId));
      if (tooLarge(nc, data.length, 'event') && !isStreamSource(request.body)) {
        // A whole body that NATS cannot carry in one message goes as a stream (SPEC §12), as a larger one would.
        request = asStreamed(request);
        data = encodeRequest(request, timeoutMs, saneRequestId(request.requestId));
      }
      const refusal = tooLarge(nc, data.length, 'event');
      if (refusal) throw refusal;
    } catch (error) {
      // Refused before anything went: a streamed body is not read, and no one else will.
      if (isStreamSource(request.body)) toReadable(request.body).destroy();
      throw error;
    }
    // Only the holder of the newest claim known is asked: none known (or this node, whose
    // connection is not open) is "nobody" now, and the caller waits for a claim.
    const holder = this.#options.presence.holder(name)?.node;
    if (holder === undefined || holder === this.#options.self) {
      countCluster(this.#options.owner, 'noresponders');
      return NOBODY;
    }
    return this.#exchange(nc, name, holder, request, data, timeoutMs);
  }

  async #exchange(nc: NatsConnection, name: string, holder: string, request: PipeRequest, data: Buffer, timeoutMs: number): Promise<PipeResponse | typeof NOBODY> {
    const id = `${this.#options.since}/${++this.#nextId}`;
    const h = headers();
    h.set(H_ORIGIN, this.#options.self);
    h.set(H_HOPS, '1');
    h.set(H_ID, id);
    countCluster(this.#options.owner, 'forwarded');
    let entry: InFlight | undefined;
    const lost = new Promise<never>((_resolve, reject) => {
      entry = { name, holder, fail: reject };
      this.#inFlight.add(entry);
    });
    const streams = new ForwardStreams(this.#options.relay, holder, request, timeoutMs);
    let touch = (): void => {};
    streams.announce(h, this.#options.relay.windowBytes, { touch: () => touch(), fail: (error) => entry!.fail(error) });
    let long: LongRequest | undefined;
    try {
      // A body that streams moves the deadline on as it goes: an inbox of its own, not nc.request's fixed timeout.
      if (streams.uploadId !== undefined) {
        long = longRequest(nc, clientSubject(name, holder), data, h, timeoutMs + HOLDER_SLACK_MS);
        touch = long.touch;
      }
      const sent = long?.reply ?? nc.request(clientSubject(name, holder), data, { timeout: timeoutMs + HOLDER_SLACK_MS, headers: h });
      // After the request, so that a caller gone already is cancelled after it reached the holder.
      request.onCancellable?.(() => this.#options.cancel(id));
      const msg = await Promise.race([sent, lost]);
      return this.#outcome(msg.headers?.get(H_STATUS) ?? '', msg.data, streams);
    } catch (error) {
      if (isNoResponders(error)) {
        streams.nobody();
        countCluster(this.#options.owner, 'noresponders');
        return NOBODY;
      }
      const failure = this.#failure(name, error);
      streams.failed(failure);
      throw failure;
    } finally {
      long?.close();
      this.#inFlight.delete(entry!);
    }
  }

  #outcome(status: string, data: Uint8Array, streams: ForwardStreams): PipeResponse | typeof NOBODY {
    if (status === 'nobody') {
      streams.nobody();
      return NOBODY;
    }
    if (status === 'error') {
      const { className, message } = parseError(data);
      throw errorOf(className, message);
    }
    if (status !== 'reply') throw new ProtocolError(`the holder answered with status ${JSON.stringify(status.slice(0, 32))}`);
    return streams.response(decodeReply(data), this.#options.takesHolds());
  }

  #failure(name: string, error: unknown): Error {
    if (error instanceof TimeoutError || (error as { cause?: unknown }).cause instanceof TimeoutError) {
      return new PeerDisconnectedError(`the node holding ${name} did not answer within the deadline: it may be lost`);
    }
    if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('RP_ERR_')) return error;
    return new ClusterUnavailableError(`the cluster failed to carry the request for ${name}: ${(error as Error).message}`);
  }

  /** The node stopped beating, or left: its requests fail now with 502. */
  holderLost(node: string): void {
    for (const entry of this.#inFlight) {
      if (entry.holder === node) entry.fail(new PeerDisconnectedError(`the node holding ${entry.name} (${node}) was lost mid-request`));
    }
  }

  /** `name` is claimed anew by `node`: requests that went to its older holder fail now with 502. */
  nameMoved(name: string, node: string): void {
    for (const entry of this.#inFlight) {
      if (entry.name === name && entry.holder !== undefined && entry.holder !== node) {
        entry.fail(new PeerDisconnectedError(`${name} moved from ${entry.holder} to ${node} mid-request`));
      }
    }
  }

  /** The connection to NATS is lost: nothing in flight can come back. */
  clusterLost(): void {
    for (const entry of this.#inFlight) entry.fail(new PeerDisconnectedError(`the cluster connection was lost while ${entry.name} was answering`));
  }
}

function isNoResponders(error: unknown): boolean {
  return error instanceof NoRespondersError || (error as { cause?: unknown }).cause instanceof NoRespondersError;
}

function parseError(data: Uint8Array): { className: string; message: string } {
  try {
    const value = JSON.parse(asBuffer(data).toString('utf8')) as { className?: unknown; message?: unknown };
    if (typeof value.className === 'string' && typeof value.message === 'string') return { className: value.className, message: value.message };
  } catch {
    // answered below
  }
  throw new ProtocolError('the holder answered with a failure that does not parse');
}

/** The request with its whole body as a stream of one chunk, its media type and size kept. */
function asStreamed(request: PipeRequest): PipeRequest {
  const { mimeType, data } = encodeBody(request.body, request.mimeType);
  return { ...request, body: Readable.from([data]), mimeType, size: data.length };
}
