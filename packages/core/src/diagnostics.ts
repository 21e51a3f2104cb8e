import dc from 'node:diagnostics_channel';

/**
 * Core publishes what happens here; metrics and logs subscribe. Every message
 * names its `owner` (the PipeServer or PipeClient) so that several pipes in one
 * process can be told apart.
 */
export const diagnostics = {
  connect: dc.channel('restpipe:connect'),
  connectFail: dc.channel('restpipe:connect:fail'),
  /** Server: a TLS connection closed before its Hello opened it, or was refused after the handshake (RefusedMessage). */
  refused: dc.channel('restpipe:refused'),
  disconnect: dc.channel('restpipe:disconnect'),
  eventSent: dc.channel('restpipe:event:sent'),
  eventReceived: dc.channel('restpipe:event:received'),
  /** Sender: failed locally (EventErrorMessage). Far-side failures are `handled` with `failed`. */
  eventError: dc.channel('restpipe:event:error'),
  eventTimeout: dc.channel('restpipe:event:timeout'),
  /** Sender: a reply arrived (RoundtripMessage). */
  roundtrip: dc.channel('restpipe:event:roundtrip'),
  handled: dc.channel('restpipe:event:handled'),
  heartbeatRtt: dc.channel('restpipe:heartbeat:rtt'),
  lateReply: dc.channel('restpipe:event:late-reply'),
  /** A job was accepted, retried, or ended (JobMessage). */
  job: dc.channel('restpipe:job'),
  /** A hold was made, approved, denied or expired (HoldMessage). */
  hold: dc.channel('restpipe:hold'),
  /** The cluster (SPEC §11) forwarded, received or dropped a message (ClusterMessage). */
  cluster: dc.channel('restpipe:cluster'),
  /** A stream (SPEC §12) ended, either way: clean, stopped by its reader, or aborted (StreamMessage). */
  stream: dc.channel('restpipe:stream'),
} as const;

export interface OwnedMessage {
  owner: object;
}
export interface ConnectMessage extends OwnedMessage {
  peer: string;
  address: string;
}
export interface ConnectFailMessage extends OwnedMessage {
  error: Error;
  address: string;
  /** The name the refused peer's certificate gave, when the refusal came after it was read. */
  peer?: string | undefined;
}
export interface RefusedMessage extends OwnedMessage {
  address: string;
  /** The name its certificate gave; undefined when it named no one. */
  peer: string | undefined;
  reason: string;
}
export interface DisconnectMessage extends ConnectMessage {
  reason: string;
}
export interface TimingMessage extends OwnedMessage {
  peer: string;
  ms: number;
}
/** What an event was and how big, as the call log (SPEC §13) shows it. */
export interface EventShape {
  verb: string;
  /** The noun's segments joined by `/`. */
  noun: string;
  /** The HTTP status its reply maps to. */
  status: number;
  /** Body bytes received and sent for it: a streamed body counts its announced size (0 when none was). */
  bytesIn: number;
  bytesOut: number;
  /** A failure's message (the far side's, or this side's); absent for a success. */
  error?: string | undefined;
}
export interface HandledMessage extends TimingMessage, EventShape {
  handlerName: string;
  returnCode: number;
  requestId: string;
  failed: boolean;
}
export interface EventMessage extends OwnedMessage {
  peer: string;
  requestId: string;
}
/** Sender side: the reply came back (value or far-side exception). */
export interface RoundtripMessage extends TimingMessage, EventShape {
  requestId: string;
  handlerName: string;
  returnCode: number;
}
export interface TimeoutMessage extends EventMessage, EventShape {
  handlerName: string;
  ms: number;
}
/** Sender side: the request failed here (disconnect, cancel, limits), not at the far handler. */
export interface EventErrorMessage extends EventMessage, EventShape {
  handlerName: string;
  code: string;
  side: 'sender';
  ms: number;
  /** The far side answered with this exception: the roundtrip was told of it already. */
  answered: boolean;
}

/**
 * `forwarded`: a request sent to another node; `received`: one taken from another node;
 * `noresponders`: nobody held the name when asked; `dropped`: a cluster message that did not parse.
 */
export interface ClusterMessage extends OwnedMessage {
  count: 'forwarded' | 'received' | 'noresponders' | 'dropped';
}

/**
 * `sent` or `received`: which way the body went; `body`: a request's or a reply's.
 * `outcome`: `end` (clean), `stopped` (the reader went away or was done), `aborted`
 * (the source failed, the deadline passed, or the connection was lost: `code` says which).
 */
export interface StreamMessage extends OwnedMessage {
  peer: string;
  requestId: string;
  direction: 'sent' | 'received';
  body: 'request' | 'reply';
  bytes: number;
  ms: number;
  outcome: 'end' | 'stopped' | 'aborted';
  code: string | undefined;
  /** Why it was aborted, in a few words (the error's message, cut to 200 characters). */
  reason: string | undefined;
}

export function publish<M extends OwnedMessage>(channel: dc.Channel, message: M): void {
  if (channel.hasSubscribers) channel.publish(message);
}
