import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { MAX_STREAM_FRAME_BYTES, type Logger, type StreamSender } from '@restpipe/core';
import { countCluster } from './cluster-diagnostics.js';
import { DropLog } from './drop-log.js';
import { HEADER_ROOM_BYTES } from './payload-room.js';
import { streamSubject, type StreamSubjectKind } from './subjects.js';

/** Ids of streams ended lately, whose messages may still be on their way: dropped without a word. */
const ENDED_REMEMBERED = 4096;

/**
 * What relayed streams say on NATS, and how their senders take turns: publishes that never
 * throw, a round-robin of the senders with bytes and credit, the streams ended lately (their
 * late messages are no one's fault), and a rate-limited log line for every other message
 * dropped.
 */
export class RelayWire {
  readonly #ended = new Set<string>();
  readonly #drops: DropLog;
  #ready: StreamSender[] = [];
  #pumping = false;

  constructor(
    private readonly owner: object,
    logger: Logger,
    private readonly connection: () => NatsConnection | undefined,
  ) {
    this.#drops = new DropLog(logger, 'cluster: a stream message was dropped');
  }

  /** One frame's bytes at most: 64 KiB, or less when max_payload (less room for headers) is smaller. */
  get frameBytes(): number {
    const max = (this.connection()?.info?.max_payload ?? 0) - HEADER_ROOM_BYTES;
    return max > 0 ? Math.min(MAX_STREAM_FRAME_BYTES, max) : MAX_STREAM_FRAME_BYTES;
  }

  /** One message about stream `id` to node `peer`; false when it could not go (the link is down or closing). */
  publish(peer: string, id: string, kind: StreamSubjectKind, h: MsgHdrs, data?: Uint8Array): boolean {
    const nc = this.connection();
    if (!nc) return false;
    try {
      nc.publish(streamSubject(peer, id, kind), data, { headers: h });
      return true;
    } catch {
      countCluster(this.owner, 'dropped');
      return false;
    }
  }

  /** `sender` has bytes and credit: it takes its turn now, or after those before it. */
  ready(sender: StreamSender): void {
    if (!sender.inQueue) {
      sender.inQueue = true;
      this.#ready.push(sender);
    }
    this.#pump();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#ready.length > 0) {
        const sender = this.#ready.shift()!;
        sender.inQueue = false;
        sender.sendOne();
        if (sender.canSend) {
          sender.inQueue = true;
          this.#ready.push(sender);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  ended(id: string): void {
    if (this.#ended.size >= ENDED_REMEMBERED) this.#ended.delete(this.#ended.values().next().value!);
    this.#ended.add(id);
  }

  endedLately(id: string): boolean {
    return this.#ended.has(id);
  }

  /** A message dropped as garbled or hostile: counted, and logged (at most every 10 s). */
  drop(why: string, about: string): void {
    countCluster(this.owner, 'dropped');
    this.#drops.note(why, about);
  }
}
