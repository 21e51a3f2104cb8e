import net from 'node:net';

interface Link {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes that crossed this link, both ways. */
  crossed: number;
  /** Cut the link once `crossed` passes this. */
  cutAt: number;
}

/**
 * A TCP proxy on 127.0.0.1 that tests steer: netem is not available here, so
 * faults are made in user space, per direction, on every link through it.
 */
export class FaultProxy {
  readonly #links = new Set<Link>();
  readonly #server = net.createServer((client) => this.#accept(client));
  port = 0;
  /** Swallow every byte both ways; sockets stay open (a half-open link). */
  blackholed = false;
  /** Added delay per chunk, each way. */
  latencyMs = 0;
  /** Forward one byte per write. */
  sliced = false;
  connectionsAccepted = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this;
  }

  /** Every live link gets a TCP RST, as from a middlebox dropping state. */
  reset(): void {
    for (const link of this.#links) {
      link.client.resetAndDestroy();
      link.upstream.resetAndDestroy();
    }
  }

  /** Cuts every live link once `bytes` more have crossed it; Infinity disarms. */
  cutAfter(bytes: number): void {
    for (const link of this.#links) link.cutAt = link.crossed + bytes;
  }

  get liveLinks(): number {
    return this.#links.size;
  }

  async close(): Promise<void> {
    for (const link of this.#links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.connectionsAccepted += 1;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const link: Link = { client, upstream, crossed: 0, cutAt: Infinity };
    this.#links.add(link);
    const pipe = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (this.blackholed) return;
        link.crossed += chunk.length;
        if (link.crossed > link.cutAt) {
          client.destroy();
          upstream.destroy();
          return;
        }
        const forward = (): void => {
          if (this.sliced) for (const byte of chunk) to.write(Buffer.of(byte));
          else to.write(chunk);
        };
        if (this.latencyMs > 0) setTimeout(forward, this.latencyMs);
        else forward();
      });
    };
    pipe(client, upstream);
    pipe(upstream, client);
    const end = (socket: net.Socket): void => {
      // A black hole swallows the FIN too: the other side learns nothing, as on a half-open link.
      if (this.blackholed) {
        socket.destroy();
        if (client.destroyed && upstream.destroyed) this.#links.delete(link);
        return;
      }
      this.#links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', () => end(socket));
      socket.on('close', () => end(socket));
    }
  }
}
