import { NAME_PATTERN } from '@restpipe/certs/names';
import { asBuffer, ProtocolError } from '@restpipe/core';
import type { Claim } from './presence.js';

/**
 * The cluster's control messages (claims, heartbeats, state, holds), JSON on NATS. Each is
 * checked field by field as it arrives: what does not parse is dropped and counted, and
 * never reaches the presence table.
 */
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const HOLD_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Names in one heartbeat or state message, at most. */
const MAX_LISTED = 1_000_000;
/**
 * How far past this node's wall clock an epoch may be. Epochs are milliseconds of a hybrid clock,
 * and every node's clock takes the largest epoch it hears of: without a bound, one forged or
 * broken claim near 2^53 would push every clock to where +1 is lost, and every later claim
 * would be refused. Within it, a clock is never more than a day ahead (plus one per claim, which
 * wall time catches up with), and a node whose clock is more than a day fast is not heard.
 */
export const MAX_EPOCH_AHEAD_MS = 86_400_000;

export interface ClaimMessage extends Claim {
  /** true: the node let the name go. */
  readonly gone?: boolean | undefined;
}

export interface BeatMessage {
  readonly node: string;
  readonly since: string;
  readonly claims: readonly Claim[];
  /** One part of the node's list: a name it does not list may still be held. */
  readonly partial: boolean;
}

export interface StateMessage extends BeatMessage {
  readonly seen: readonly string[];
}

export interface HoldMessage {
  readonly node: string;
  readonly name: string;
  readonly hold: string;
}

export interface CancelMessage {
  readonly node: string;
  readonly id: string;
}

export function encode(message: object): Uint8Array {
  return Buffer.from(JSON.stringify(message));
}

function parse(data: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(asBuffer(data).toString('utf8'));
  } catch {
    throw new ProtocolError('a cluster message is no JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError('a cluster message must be an object');
  return value as Record<string, unknown>;
}

export function nodeIdOf(value: unknown): string {
  if (typeof value !== 'string' || !NODE_ID.test(value)) throw new ProtocolError('a cluster message names no valid node');
  return value;
}

function nameOf(value: unknown): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) throw new ProtocolError('a cluster message names no valid client');
  return value;
}

function epochOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0 || value > Date.now() + MAX_EPOCH_AHEAD_MS) throw new ProtocolError('a claim has no valid epoch');
  return value;
}

function claimsOf(value: unknown, node: string): Claim[] {
  if (!Array.isArray(value) || value.length > MAX_LISTED) throw new ProtocolError('a heartbeat lists no valid claims');
  return value.map((pair: unknown) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new ProtocolError('a heartbeat claim must be [name, epoch]');
    return { name: nameOf(pair[0]), node, epoch: epochOf(pair[1]) };
  });
}

function sinceOf(value: unknown): string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new ProtocolError('a heartbeat has no valid since');
  return value;
}

export function parseClaim(data: Uint8Array): ClaimMessage {
  const m = parse(data);
  return { name: nameOf(m['name']), node: nodeIdOf(m['node']), epoch: epochOf(m['epoch']), gone: m['gone'] === true };
}

export function parseBeat(data: Uint8Array): BeatMessage {
  const m = parse(data);
  const node = nodeIdOf(m['node']);
  return { node, since: sinceOf(m['since']), claims: claimsOf(m['claims'], node), partial: m['partial'] === true };
}

export function parseState(data: Uint8Array): StateMessage {
  const m = parse(data);
  const seen = m['seen'];
  if (!Array.isArray(seen) || seen.length > MAX_LISTED) throw new ProtocolError('a state message lists no valid names seen');
  return { ...parseBeat(data), seen: seen.map(nameOf) };
}

export function parseHold(data: Uint8Array): HoldMessage {
  const m = parse(data);
  const hold = m['hold'];
  if (typeof hold !== 'string' || !HOLD_ID.test(hold)) throw new ProtocolError('a hold notice has no valid hold id');
  return { node: nodeIdOf(m['node']), name: nameOf(m['name']), hold };
}

export function parseCancel(data: Uint8Array): CancelMessage {
  const m = parse(data);
  const id = m['id'];
  if (typeof id !== 'string' || id.length > 64) throw new ProtocolError('a cancel has no valid id');
  return { node: nodeIdOf(m['node']), id };
}

export function beatOf(node: string, since: string, claims: Iterable<Claim>, partial = false): object {
  return { node, since, claims: [...claims].map((c) => [c.name, c.epoch]), ...(partial ? { partial: true } : {}) };
}
