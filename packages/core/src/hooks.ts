import type { EventEmitter } from 'node:events';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler, Peer } from './event-handler.js';
import type { Logger } from './logger.js';

const initialized = new WeakSet<EventHandler>();
const closed = new WeakSet<EventHandler>();

/** Runs a user hook; a throw or rejection is logged, never propagated. */
async function runHook(logger: Logger, hook: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (error) {
    logger.error({ hook, err: (error as Error)?.message ?? String(error) }, 'handler hook failed');
  }
}

/** `init()` runs once per handler instance, however many pipes share it. */
export async function initHandler(handler: EventHandler, logger: Logger): Promise<void> {
  if (initialized.has(handler)) return;
  initialized.add(handler);
  if (handler.init) await runHook(logger, 'init', () => handler.init?.());
}

export async function closeHandler(handler: EventHandler, logger: Logger): Promise<void> {
  if (closed.has(handler)) return;
  closed.add(handler);
  if (handler.close) await runHook(logger, 'close', () => handler.close?.());
}

export function notifyConnect(handler: EventHandler, logger: Logger, peer: Peer): void {
  if (handler.onConnect) void runHook(logger, 'onConnect', () => handler.onConnect?.(peer));
}

export function notifyDisconnect(handler: EventHandler, logger: Logger, peer: Peer, reason: string): void {
  if (handler.onDisconnect) void runHook(logger, 'onDisconnect', () => handler.onDisconnect?.(peer, reason));
}

/** The PipeServer or PipeClient whose peers come and go. */
export interface PeerOwner {
  readonly owner: EventEmitter;
  readonly handler: EventHandler;
  readonly logger: Logger;
}

/** A peer connected: the diagnostics channel, the owner's `connect` event, then the handler's onConnect. */
export function announceConnect({ owner, handler, logger }: PeerOwner, peer: Peer): void {
  publish(diagnostics.connect, { owner, peer: peer.name, address: peer.address });
  owner.emit('connect', peer);
  notifyConnect(handler, logger, peer);
}

/** A peer left: the diagnostics channel, the owner's `disconnect` event, then the handler's onDisconnect. */
export function announceDisconnect({ owner, handler, logger }: PeerOwner, peer: Peer, reason: string): void {
  publish(diagnostics.disconnect, { owner, peer: peer.name, address: peer.address, reason });
  owner.emit('disconnect', peer, reason);
  notifyDisconnect(handler, logger, peer, reason);
}
