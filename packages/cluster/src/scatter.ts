import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { BroadcastOutcome, ClientInfo, PipeRequest, ServerSide } from '@restpipe/core';
import { BodyTooLargeError, ClusterUnavailableError, isStreamSource, PeerDisconnectedError, saneRequestId, responseFromReply } from '@restpipe/core';
import type { Presence } from './presence.js';
import { decodeReply, decodeRequest, encodeRequest, errorOf, outcomeOf } from './codec.js';
import { countCluster } from './cluster-diagnostics.js';
import { H_ORIGIN } from './forwarder.js';
import { tooLarge } from './payload-room.js';
import { nodeIdOf } from './messages.js';
import { BROADCAST, CLIENTS } from './subjects.js';

/** A client as `/_rp/clients` lists it in a cluster: with the node it is connected to. */
export interface ClusterClientInfo extends ClientInfo {
  readonly node: string;
}

/** How long `/_rp/clients` waits for the other nodes' lists. */
const CLIENTS_WAIT_MS = 1_000;
/** Past a broadcast's deadline, the other nodes' answers have this long to arrive. */
const BROADCAST_SLACK_MS = 1_000;

function originHeaders(self: string) {
  const h = headers();
  h.set(H_ORIGIN, self);
  return h;
}

/** A message this node sent itself (NATS echoes to its own subscriptions): not answered. */
export function fromSelf(msg: Msg, self: string): boolean {
  return msg.headers?.get(H_ORIGIN) === self;
}

/** Asks every other node (`nodes` of them) and collects what each answers, until all have or `maxWait`. */
async function gather(nc: NatsConnection, subject: string, data: Uint8Array, self: string, nodes: number, maxWait: number): Promise<Msg[]> {
  if (nodes === 0) return [];
  const answers: Msg[] = [];
  const replies = await nc.requestMany(subject, data, { strategy: 'count', maxMessages: nodes, maxWait, headers: originHeaders(self) });
  try {
    for await (const msg of replies) answers.push(msg);
  } catch {
    // No responders, or the wait ended: what arrived is the answer.
  }
  return answers;
}

/** Every other node's clients. A node that does not answer in time is left out. */
export async function gatherClients(owner: object, nc: NatsConnection, self: string, nodes: number): Promise<ClusterClientInfo[]> {
  const answers = await gather(nc, CLIENTS, new Uint8Array(0), self, nodes, CLIENTS_WAIT_MS);
  const clients: ClusterClientInfo[] = [];
  for (const msg of answers) {
    try {
      const list = JSON.parse(msg.string()) as { node: unknown; clients: ClientInfo[] };
      const node = nodeIdOf(list.node);
      for (const client of list.clients) clients.push({ ...client, node });
    } catch {
      countCluster(owner, 'dropped');
    }
  }
  return clients;
}

/**
 * This node's clients for another's `/_rp/clients`. Past `maxPayload`, only the fields SPEC §4
 * names go (about half the bytes: twice the clients fit); past that too, the node is left out.
 */
export function answerClients(msg: Msg, self: string, clients: ClientInfo[], maxPayload = Infinity): void {
  if (fromSelf(msg, self) || !msg.reply) return;
  try {
    let body = Buffer.from(JSON.stringify({ node: self, clients }));
    if (body.length > maxPayload) body = Buffer.from(JSON.stringify({ node: self, clients: clients.map(compact) }));
    msg.respond(body);
  } catch {
    // Too many clients for max_payload, or the connection closed: this node is left out of the list.
  }
}

function compact({ name, address, connectedAt, inFlight, eventsIn, eventsOut, streams, rttMs }: ClientInfo): Partial<ClientInfo> {
  return { name, address, connectedAt, inFlight, eventsIn, eventsOut, streams, rttMs };
}

/**
 * The other nodes' part of a broadcast: every client held elsewhere answers, or gets an entry
 * saying why it could not (its node did not answer in time, or the cluster is down).
 */
export async function broadcastElsewhere(
  owner: object, nc: NatsConnection | undefined, self: string, presence: Presence, request: PipeRequest, timeoutMs: number,
): Promise<BroadcastOutcome[]> {
  const expected = new Map([...presence.remoteNames()].map((name) => [name, presence.holder(name)?.node ?? '']));
  const answered = nc ? await gatherBroadcast(owner, nc, self, presence.nodeCount, request, timeoutMs) : [];
  const outcomes = new Map(answered.map((outcome) => [outcome.name, outcome]));
  for (const [name, node] of expected) {
    if (outcomes.has(name)) continue;
    const error = nc
      ? new PeerDisconnectedError(`node ${node} did not answer the broadcast for ${name}`)
      : new ClusterUnavailableError(`${name} is on node ${node}, and the cluster cannot be reached`);
    outcomes.set(name, { name, error });
  }
  return [...outcomes.values()];
}

type WireOutcome = { name: string; reply: string } | { name: string; className: string; message: string };

/** The other nodes' parts of a broadcast: every client of theirs, each with its outcome. */
export async function gatherBroadcast(
  owner: object, nc: NatsConnection, self: string, nodes: number, request: PipeRequest, timeoutMs: number,
): Promise<BroadcastOutcome[]> {
  if (isStreamSource(request.body)) throw new BodyTooLargeError('a broadcast body must fit in --max-event-bytes: it does not stream');
  const data = encodeRequest(request, timeoutMs, saneRequestId(request.requestId));
  const refusal = tooLarge(nc, data.length, 'event');
  if (refusal) throw refusal;
  const answers = await gather(nc, BROADCAST, data, self, nodes, timeoutMs + BROADCAST_SLACK_MS);
  const outcomes: BroadcastOutcome[] = [];
  for (const msg of answers) {
    try {
      for (const part of JSON.parse(msg.string()) as WireOutcome[]) outcomes.push(outcomeFrom(part));
    } catch {
      countCluster(owner, 'dropped');
    }
  }
  return outcomes;
}

function outcomeFrom(part: WireOutcome): BroadcastOutcome {
  if ('reply' in part) {
    try {
      return { name: part.name, response: responseFromReply(decodeReply(Buffer.from(part.reply, 'base64')), true) };
    } catch (error) {
      return { name: part.name, error: error as Error };
    }
  }
  return { name: part.name, error: errorOf(part.className, part.message) };
}

/** This node's part of another node's broadcast. */
export async function answerBroadcast(owner: object, msg: Msg, self: string, side: ServerSide): Promise<void> {
  if (fromSelf(msg, self) || !msg.reply) return;
  let request: PipeRequest;
  try {
    request = decodeRequest(msg.data);
  } catch {
    countCluster(owner, 'dropped');
    try {
      msg.respond(Buffer.from('[]'));
    } catch {
      // The connection closed meanwhile.
    }
    return;
  }
  const outcomes = await side.broadcastLocal(request);
  const parts: WireOutcome[] = outcomes.map((outcome) => {
    const wire = outcomeOf(outcome.response ? { response: outcome.response } : { error: outcome.error });
    return 'reply' in wire ? { name: outcome.name, reply: wire.reply.toString('base64') } : { name: outcome.name, ...wire.error };
  });
  try {
    msg.respond(Buffer.from(JSON.stringify(parts)));
  } catch {
    // Too large for max_payload together (or the connection closed): each part says so, without its body.
    const failed = outcomes.map(({ name }) => ({ name, className: 'BodyTooLargeError', message: 'the broadcast replies of this node were too large for the cluster together (nats-server max_payload)' }));
    try {
      msg.respond(Buffer.from(JSON.stringify(failed)));
    } catch {
      // The connection closed: the sender's wait ends on its own.
    }
  }
}
