import dc from 'node:diagnostics_channel';

/**
 * Core publishes what happens here; metrics and logs subscribe. Every message
 * names its `owner` (the PipeServer or PipeClient) so that several pipes in one
 * process can be told apart.
 */
export const diagnostics = {
  connect: dc.channel('restpipe:connect'),
  connectFail: dc.channel('restpipe:connect:fail'),
  disconnect: dc.channel('restpipe:disconnect'),
  eventSent: dc.channel('restpipe:event:sent'),
  eventReceived: dc.channel('restpipe:event:received'),
  eventError: dc.channel('restpipe:event:error'),
  eventTimeout: dc.channel('restpipe:event:timeout'),
  roundtrip: dc.channel('restpipe:event:roundtrip'),
  handled: dc.channel('restpipe:event:handled'),
  heartbeatRtt: dc.channel('restpipe:heartbeat:rtt'),
  lateReply: dc.channel('restpipe:event:late-reply'),
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
}
export interface DisconnectMessage extends ConnectMessage {
  reason: string;
}
export interface TimingMessage extends OwnedMessage {
  peer: string;
  ms: number;
}
export interface HandledMessage extends TimingMessage {
  handlerName: string;
  returnCode: number;
  requestId: string;
  failed: boolean;
}
export interface EventMessage extends OwnedMessage {
  peer: string;
  requestId: string;
}

export function publish<M extends OwnedMessage>(channel: dc.Channel, message: M): void {
  if (channel.hasSubscribers) channel.publish(message);
}
