/**
 * "Mallory" for the hostile holds tests (SPEC §9): a raw mutual-TLS peer with a valid client
 * certificate that speaks the wire by hand, and a raw HTTP POST for bodies a gateway refuses
 * before reading them.
 */
import net from 'node:net';
import { issueCertificate } from '@restpipe/certs';
import { PROTOCOL_VERSION, ReplyKind, type EventFrame, type Frame, type ReplyFrame } from '@restpipe/core';
import type { CertDir } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

export type Reply = Omit<ReplyFrame, 'id'>;
/** A raw peer that answers Pings (so it is never declared dead), asks events and answers the node's. */
export class Mallory {
  readonly #answered = new Set<number>();
  #seen = 0;
  #nextId = 1;

  private constructor(readonly raw: RawPeer) {
    raw.socket.on('data', () => {
      for (; this.#seen < raw.frames.length; this.#seen++) {
        const frame = raw.frames[this.#seen]!;
        if (frame.kind === 'ping') raw.send({ kind: 'pong', pong: { seq: frame.ping.seq } });
      }
    });
  }

  /** Connected, and (unless `hello` is false) past Hello/HelloAck; `holds` is what its Hello says. */
  static async connect(certs: CertDir, port: number, options: { name?: string; holds?: boolean; hello?: boolean } = {}): Promise<Mallory> {
    const identity = issueCertificate(certs.ca, 'client', { name: options.name ?? 'mallory' });
    const mallory = new Mallory(await RawPeer.connect(port, identity, certs.ca.certPem));
    if (options.hello === false) return mallory;
    mallory.raw.send({ kind: 'hello', hello: {
      protocolVersion: PROTOCOL_VERSION, software: 'mallory', heartbeatMs: 60_000, maxEventBytes: 1 << 22, maxInFlight: 64,
      maxConcurrency: 8, maxInboundBytes: 0, idempotencyKeys: true, ...(options.holds === false ? {} : { holds: true }),
    } });
    await waitFor(() => mallory.helloAck() ?? mallory.raw.closed, 'the HelloAck');
    return mallory;
  }

  helloAck(): Extract<Frame, { kind: 'helloAck' }>['helloAck'] | undefined {
    const ack = this.raw.frames.find((f) => f.kind === 'helloAck');
    return ack?.kind === 'helloAck' ? ack.helloAck : undefined;
  }

  notice(hold: string): void {
    this.raw.send({ kind: 'holdNotice', holdNotice: { hold } });
  }

  /** Sends an event (GET /time unless told otherwise) and resolves its reply. */
  async ask(event: Partial<EventFrame> = {}): Promise<ReplyFrame> {
    const id = this.#nextId++;
    this.raw.send({ kind: 'event', event: {
      id, verb: 'get', noun: ['time'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 10_000, requestId: `mallory-${id}`, ...event,
    } });
    const frame = await waitFor(() => this.raw.frames.find((f) => f.kind === 'reply' && f.reply.id === id), `the reply to mallory's event ${id}`);
    return (frame as Extract<Frame, { kind: 'reply' }>).reply;
  }

  /** After frames the node may take as a breach: 'answered' once it answered an event sent after them, else the Goaway reason it closed us with ('' for none). */
  async answeredOrRefused(): Promise<string> {
    const answered = this.ask().then(() => 'answered', () => undefined);
    const closed = waitFor(() => this.raw.closed, 'mallory to be answered or closed', 20_000).then(() => this.raw.goawayReason() ?? '');
    return (await Promise.race([answered, closed]))!;
  }

  /** Answers the next event the node sends it with `reply`; resolves that event. */
  async answer(reply: Reply): Promise<EventFrame> {
    const frame = await waitFor(() => this.raw.frames.find((f) => f.kind === 'event' && !this.#answered.has(f.event.id)), 'an event for mallory');
    const { event } = frame as Extract<Frame, { kind: 'event' }>;
    this.#answered.add(event.id);
    this.raw.send({ kind: 'reply', reply: { id: event.id, ...reply } });
    return event;
  }
}

export const heldReply = (body: unknown): Reply => ({
  kind: ReplyKind.HELD, status: 202, returnCode: 0, mimeType: 'application/json',
  data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});
export const valueReply = (body: unknown): Reply => ({ kind: ReplyKind.VALUE, status: 200, returnCode: 0, mimeType: 'application/json', data: Buffer.from(JSON.stringify(body)) });
export const exceptionOf = (reply: ReplyFrame) => JSON.parse(Buffer.from(reply.data).toString('utf8')).exception;
export const inAMinute = () => new Date(Date.now() + 60_000).toISOString();

/**
 * A POST over a plain socket, for bodies the gateway refuses before reading them: fetch fails
 * with EPIPE when the answer comes first. `chunkedBytes`: a body of unknown length, sent
 * until the answer starts; else only the headers, declaring `declaredBytes`.
 */
export function rawPost(gateway: string, path: string, opts: { declaredBytes?: number; chunkedBytes?: number }): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(gateway);
  return new Promise((resolve) => {
    let got = '';
    const socket = net.connect(Number(port), hostname);
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => {}); // the gateway may reset what it did not read: its answer was read first
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0), text: got.slice(got.indexOf('\r\n\r\n') + 4) }));
    const length = opts.chunkedBytes === undefined ? `content-length: ${opts.declaredBytes}` : 'transfer-encoding: chunked';
    socket.write(`POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\ncontent-type: application/json\r\n${length}\r\n\r\n`);
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x20), Buffer.from('\r\n')]);
    const pump = (left: number): void => {
      while (left > 0 && got === '' && !socket.destroyed) {
        left -= 0x10000;
        if (!socket.write(chunk)) return void socket.once('drain', () => pump(left));
      }
    };
    if (opts.chunkedBytes !== undefined) pump(opts.chunkedBytes);
  });
}
