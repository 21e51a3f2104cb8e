/**
 * The only module that touches `node:tls`. Everything above it sees a Transport:
 * a verified, mutually authenticated byte stream.
 */
import tls from 'node:tls';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { HandshakeTimeoutError, TlsError } from '@restpipe/wire';
import type { TlsMaterial, TlsMinVersion } from './options.js';

/**
 * Cipher list for every connection. TLS 1.3 suites are all AEAD; for TLS 1.2 only
 * ECDHE with AES-GCM or ChaCha20-Poly1305 is offered or accepted.
 */
export const AEAD_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

const KEEPALIVE_DELAY_MS = 30_000;
/** The most handed to the socket in one write. */
const WRITE_PIECE_BYTES = 64 * 1024;
export const TICKET_KEYS_BYTES = 48;

export interface PeerCertificateFacts {
  subjectAltName: string | undefined;
  commonName: string | undefined;
  /** Upper-case hex, as Node reports it. */
  serialNumber: string | undefined;
  fingerprint256: string | undefined;
  /** The certificate's notAfter, ISO 8601; undefined when it could not be read. */
  validTo?: string | undefined;
}

export interface Transport {
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateFacts;
  /** The TLS session was resumed from a ticket: no full handshake. */
  readonly resumed: boolean;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly pendingWriteBytes: number;
  /** Bytes handed on so far: grows while the peer reads, stalls when it stops. */
  readonly bytesFlushed: number;
  readonly destroyed: boolean;
  /** Writes the chunks, in order, as one batch. */
  write(chunks: readonly Buffer[]): void;
  /** Flushes what is queued, then closes. */
  end(): void;
  destroy(error?: Error): void;
  onData(listener: (chunk: Buffer) => void): void;
  /** Stops reading from the peer (TCP backpressure) until resume(). */
  pause(): void;
  resume(): void;
  /** Called whenever what was written has been handed on and more fits. */
  onWritable(listener: () => void): void;
  /** Called once; with the first error seen on the socket, if any. */
  onClose(listener: (error: Error | undefined) => void): void;
}

class TlsTransport implements Transport {
  readonly remoteAddress: string;
  readonly peerCertificate: PeerCertificateFacts;
  readonly resumed: boolean;
  #firstError: Error | undefined;
  #bytesQueued = 0;

  constructor(private readonly socket: tls.TLSSocket) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.peerCertificate = peerFacts(socket);
    this.resumed = socket.isSessionReused();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.on('error', (error) => {
      this.#firstError ??= error;
    });
  }

  get pendingWriteBytes(): number {
    return this.socket.writableLength + this.#heldBytes;
  }

  get bytesFlushed(): number {
    return this.#bytesQueued - this.pendingWriteBytes;
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  write(chunks: readonly Buffer[]): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    for (const chunk of chunks) {
      this.#bytesQueued += chunk.length;
      this.#heldBytes += chunk.length;
      // A large body goes in views of WRITE_PIECE_BYTES (no copy): a peer that reads
      // slowly is seen to make progress piece by piece (the slow-consumer watch).
      if (chunk.length <= WRITE_PIECE_BYTES) this.#held.push(chunk);
      else for (let at = 0; at < chunk.length; at += WRITE_PIECE_BYTES) this.#held.push(chunk.subarray(at, at + WRITE_PIECE_BYTES));
    }
    if (!this.#waitingForDrain) this.#pump();
  }

  /** Chunks not yet handed to the socket, oldest first. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  #waitingForDrain = false;
  #endWhenEmpty = false;

  /**
   * Hands chunks to the socket until it says it is full, then waits for 'drain'.
   * A large body therefore reaches TLS on its own: chunks the socket buffers
   * together go out through writev, which copies them all into one block first.
   */
  #pump(): void {
    while (this.#held.length > 0) {
      const chunk = this.#held.shift()!;
      this.#heldBytes -= chunk.length;
      if (!this.socket.write(chunk)) {
        this.#waitingForDrain = true;
        this.socket.once('drain', () => this.#onDrain());
        return;
      }
    }
    if (this.#endWhenEmpty) this.socket.end();
  }

  #onDrain(): void {
    this.#waitingForDrain = false;
    if (this.socket.destroyed) return;
    this.#pump();
    if (!this.#waitingForDrain) this.#writable?.();
  }

  #writable: (() => void) | undefined;

  onWritable(listener: () => void): void {
    this.#writable = listener;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.#held.length > 0) this.#endWhenEmpty = true;
    else this.socket.end();
  }

  destroy(error?: Error): void {
    if (error) this.#firstError ??= error;
    this.socket.destroy();
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.socket.on('data', listener);
  }

  onClose(listener: (error: Error | undefined) => void): void {
    this.socket.once('close', () => listener(this.#firstError));
  }
}

/** `Mar  1 00:00:00 2027 GMT`, as OpenSSL prints it, in ISO 8601. */
function isoDate(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function peerFacts(socket: tls.TLSSocket): PeerCertificateFacts {
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN as string | string[] | undefined;
  return {
    subjectAltName: cert?.subjectaltname,
    commonName: Array.isArray(cn) ? cn[0] : cn,
    serialNumber: cert?.serialNumber,
    fingerprint256: cert?.fingerprint256,
    validTo: isoDate(cert?.valid_to),
  };
}

/**
 * A session resumes only under the same session id context. Node's default hashes the
 * process's command line, so a restart with other flags (another gateway port, say) could
 * never resume; ours is the CA's, so a session also dies with the CA that vouched for it.
 */
function serverContextOptions(material: TlsMaterial): tls.SecureContextOptions & { sessionIdContext: string } {
  const sessionIdContext = createHash('sha256').update('restpipe session\0').update(String(material.ca)).digest('hex').slice(0, 32);
  return { ...secureContextOptions(material), sessionIdContext };
}

function secureContextOptions(material: TlsMaterial): tls.SecureContextOptions {
  const minVersion: TlsMinVersion = material.minVersion ?? 'TLSv1.3';
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    ...(material.crl ? { crl: material.crl } : {}),
    minVersion,
    ciphers: AEAD_CIPHERS,
  };
}

export interface ListenOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  handshakeTimeoutMs: number;
  /** 48 bytes that encrypt session tickets; the same keys let clients resume across restarts. */
  ticketKeys?: Buffer | undefined;
}

export interface TlsRefusal {
  error: Error;
  remoteAddress: string;
}

export interface TlsListener {
  readonly address: { host: string; port: number };
  /**
   * Swaps certificate, key, CA and CRL for new handshakes; live connections stay.
   * Ticket keys become `ticketKeys`, or fresh random ones: a resumed session skips
   * OpenSSL's CRL check, so whoever keeps keys must check revoked serials itself.
   */
  reload(material: TlsMaterial, ticketKeys?: Buffer): void;
  /** Stops accepting. Live connections are the caller's to close. */
  close(): Promise<void>;
}

/**
 * Listens for mutual-TLS connections; only clients with a certificate from the CA get through.
 * `onServerError` hears what the listening socket reports once it listens (an accept()
 * failure such as ENOMEM or ENOBUFS); the server keeps listening. (EMFILE and ENFILE
 * never get here: libuv drops the connection it cannot accept, silently.)
 */
export function listenTls(
  options: ListenOptions,
  onConnection: (transport: Transport) => void,
  onRefused: (refusal: TlsRefusal) => void,
  onServerError: (error: Error) => void = () => {},
): Promise<TlsListener> {
  const server = tls.createServer({
    ...serverContextOptions(options.tls),
    requestCert: true,
    rejectUnauthorized: true,
    handshakeTimeout: options.handshakeTimeoutMs,
    ...(options.ticketKeys ? { ticketKeys: options.ticketKeys } : {}),
  });
  server.on('secureConnection', (socket) => onConnection(new TlsTransport(socket)));
  // A refused socket is already torn down when tlsClientError fires: keep its address.
  server.on('connection', (raw: net.Socket) => addresses.set(raw, raw.remoteAddress ?? ''));
  server.on('tlsClientError', (error, socket) => {
    onRefused({ error: refusalError(error, socket), remoteAddress: addressOf(socket) });
    socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', onServerError);
      resolve(listenerOf(server));
    });
  });
}

const addresses = new WeakMap<net.Socket, string>();

function addressOf(socket: tls.TLSSocket): string {
  // Node keeps the TCP socket under the TLS one as `_parent` (not public API; guarded).
  const raw = (socket as unknown as { _parent?: net.Socket })._parent;
  return socket.remoteAddress ?? (raw ? addresses.get(raw) : undefined) ?? '';
}

/**
 * Node closes a TLS 1.3 socket whose client certificate failed verification
 * without an error ("socket hang up"); the reason is in `authorizationError`.
 */
function refusalError(error: Error, socket: tls.TLSSocket): Error {
  if ((error as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
    return new HandshakeTimeoutError('TLS handshake did not finish in time', { cause: error });
  }
  const reason = socket.authorizationError;
  const detail = reason ? `client certificate rejected: ${String(reason)}` : error.message;
  return new TlsError(`TLS handshake refused: ${detail}`, { cause: error });
}

function listenerOf(server: tls.Server): TlsListener {
  const info = server.address() as net.AddressInfo;
  return {
    address: { host: info.address, port: info.port },
    reload: (material, ticketKeys) => {
      server.setSecureContext(serverContextOptions(material));
      server.setTicketKeys(ticketKeys ?? randomBytes(TICKET_KEYS_BYTES));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface DialOptions {
  host: string;
  port: number;
  /** Name the server certificate must carry (DNS or IP SAN). */
  serverName: string;
  tls: TlsMaterial;
  handshakeTimeoutMs: number;
  /** A TLS session from an earlier connection, for resumption. */
  session?: Buffer | undefined;
  onSession?: ((session: Buffer) => void) | undefined;
}

/** Dials the server; resolves once the server certificate is verified. */
export function dialTls(options: DialOptions): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      ...secureContextOptions(options.tls),
      host: options.host,
      port: options.port,
      ...(net.isIP(options.serverName) ? {} : { servername: options.serverName }),
      // Explicit: Node's default turns false under NODE_TLS_REJECT_UNAUTHORIZED=0.
      rejectUnauthorized: true,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(options.serverName, cert),
      ...(options.session ? { session: options.session } : {}),
    });
    const timer = setTimeout(() => {
      socket.destroy(new HandshakeTimeoutError('TLS handshake did not finish in time'));
    }, options.handshakeTimeoutMs);
    if (options.onSession) socket.on('session', options.onSession);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error instanceof HandshakeTimeoutError ? error : new TlsError(error.message, { cause: error }));
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      if (!socket.authorized) {
        // Unreachable with rejectUnauthorized: true; a second lock on the same door.
        socket.destroy(new TlsError(`server certificate not verified: ${String(socket.authorizationError)}`));
        return;
      }
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(new TlsTransport(socket));
    });
  });
}
