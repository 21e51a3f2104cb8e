import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { countCluster } from './cluster-diagnostics.js';

/**
 * A subscription whose handler can never throw into nats.js: a throw there stops the
 * connection reading every subject. What throws (a message that does not parse, mostly)
 * is dropped and counted.
 */
export function subscribeSafely(nc: NatsConnection, owner: object, subject: string, handle: (msg: Msg) => void, queue?: string): Subscription {
  return nc.subscribe(subject, {
    ...(queue === undefined ? {} : { queue }),
    callback: (error, msg) => {
      if (error) return;
      try {
        handle(msg);
      } catch {
        countCluster(owner, 'dropped');
      }
    },
  });
}
