import type { PeerCertificateFacts, Transport } from './transport.js';

/**
 * Two ends of an in-memory byte stream with the Transport interface, for tests
 * of PipeConnection without sockets. Bytes reach the other end in a microtask.
 * `stall()` makes this end's peer stop reading: writes pile up unflushed, as
 * with a peer whose TCP window is shut.
 */
export class MemoryTransport implements Transport {
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateFacts;
  readonly resumed = false;
  other!: MemoryTransport;
  #destroyed = false;
  #ended = false;
  #paused = false;
  #stalled = false;
  #dataListener: ((chunk: Buffer) => void) | undefined;
  #closeListener: ((error: Error | undefined) => void) | undefined;
  #writableListener: (() => void) | undefined;
  /** Chunks for the other end while it is paused or this end is stalled. */
  readonly #unread: Buffer[] = [];
  #unreadBytes = 0;
  #bytesQueued = 0;

  private constructor(name: string) {
    this.remoteAddress = `memory:${name}`;
    this.peerCertificate = { subjectAltName: `DNS:${name}`, commonName: name, serialNumber: '01', fingerprint256: '' };
  }

  /** A connected pair: what one writes, the other reads. */
  static pair(a = 'a', b = 'b'): [MemoryTransport, MemoryTransport] {
    const left = new MemoryTransport(b);
    const right = new MemoryTransport(a);
    left.other = right;
    right.other = left;
    return [left, right];
  }

  get pendingWriteBytes(): number {
    return this.#unreadBytes;
  }

  get bytesFlushed(): number {
    return this.#bytesQueued - this.#unreadBytes;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** The other end stops (true) or starts again (false) taking what this end writes. */
  stall(stalled = true): void {
    this.#stalled = stalled;
    if (!stalled) this.#deliver();
  }

  write(chunks: readonly Buffer[]): void {
    if (this.#destroyed || this.#ended) return;
    for (const chunk of chunks) {
      this.#unread.push(Buffer.from(chunk));
      this.#unreadBytes += chunk.length;
      this.#bytesQueued += chunk.length;
    }
    queueMicrotask(() => this.#deliver());
  }

  end(): void {
    this.#ended = true;
    queueMicrotask(() => {
      this.#deliver();
      if (this.#unreadBytes === 0) this.destroy();
    });
  }

  destroy(error?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    queueMicrotask(() => this.#closeListener?.(error));
    this.other.destroy();
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.#dataListener = listener;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    queueMicrotask(() => this.other.#deliver());
  }

  onWritable(listener: () => void): void {
    this.#writableListener = listener;
  }

  onClose(listener: (error: Error | undefined) => void): void {
    this.#closeListener = listener;
  }

  /** Hands this end's unread chunks to the other end, unless it is paused or this end is stalled. */
  #deliver(): void {
    const reader = this.other;
    let delivered = false;
    while (this.#unread.length > 0 && !this.#stalled && !reader.#paused && !reader.#destroyed) {
      const chunk = this.#unread.shift()!;
      this.#unreadBytes -= chunk.length;
      reader.#dataListener?.(chunk);
      delivered = true;
    }
    if (delivered && this.#unreadBytes === 0) this.#writableListener?.();
    if (this.#ended && this.#unreadBytes === 0) this.destroy();
  }
}
