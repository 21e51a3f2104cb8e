import dgram from 'node:dgram';

/** A real UDP socket on loopback collecting StatsD lines. */
export class StatsdCollector {
  readonly lines: string[] = [];
  readonly socket = dgram.createSocket('udp4');
  port = 0;

  async start(): Promise<this> {
    this.socket.on('message', (msg) => this.lines.push(...msg.toString().split('\n').filter(Boolean)));
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
    return this;
  }

  /** `name|type` pairs seen, e.g. `restpipe.server.event.sent|c`. */
  kinds(): Set<string> {
    return new Set(this.lines.map((l) => {
      const [nameValue, type] = l.split('|');
      return `${nameValue!.split(':')[0]}|${type}`;
    }));
  }

  close(): void {
    this.socket.close();
  }
}
