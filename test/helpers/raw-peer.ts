import tls from 'node:tls';
import { encodeFrameBytes, FrameDecoder, decodeFrame, PROTOCOL_VERSION, type Frame } from '@restpipe/core';
import type { Identity } from '@restpipe/certs';

/**
 * A hand-driven mutual-TLS peer for tests that must misbehave: send garbage,
 * stop answering, or speak frames the real client never would.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #decoder = new FrameDecoder(1 << 24);

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const body of this.#decoder.push(chunk)) this.frames.push(decodeFrame(body));
      } catch {
        /* the test decides what matters */
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static connect(port: number, identity: Identity | undefined, caPem: string): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: '127.0.0.1', port, servername: 'localhost', ca: caPem,
        ...(identity ? { cert: identity.certPem, key: identity.keyPem } : {}),
      });
      socket.once('secureConnect', () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  send(frame: Frame): void {
    this.socket.write(encodeFrameBytes(frame));
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  hello(heartbeatMs = 60_000): void {
    this.send({ kind: 'hello', hello: { protocolVersion: PROTOCOL_VERSION, software: 'raw-peer', heartbeatMs, maxEventBytes: 1 << 20, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0 } });
  }

  goawayReason(): string | undefined {
    const goaway = this.frames.find((f) => f.kind === 'goaway');
    return goaway?.kind === 'goaway' ? goaway.goaway.reason : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
