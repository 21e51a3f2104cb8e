import { createInbox, NoRespondersError, TimeoutError, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';

/** A NATS request whose deadline moves on while its body streams. */
export interface LongRequest {
  readonly reply: Promise<Msg>;
  /** Data moved: the deadline starts again. */
  touch(): void;
  /** Done with it, answered or not: its inbox and timer go. */
  close(): void;
}

/**
 * A request with an inbox and a deadline of its own (SPEC §12: a request's deadline runs
 * until its reply starts, and while its body moves it starts again), which nc.request's
 * fixed timeout cannot do. "No responders" rejects with NoRespondersError and the deadline
 * with TimeoutError, as nc.request does.
 */
export function longRequest(nc: NatsConnection, subject: string, data: Uint8Array, h: MsgHdrs, timeoutMs: number): LongRequest {
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => {};
  const close = (): void => {
    closed = true;
    clearTimeout(timer);
    unsubscribe();
  };
  const reply = new Promise<Msg>((resolve, reject) => {
    const inbox = createInbox();
    const sub = nc.subscribe(inbox, {
      max: 1,
      callback: (error, msg) => {
        close();
        if (error) reject(error);
        else if (msg.data.length === 0 && msg.headers?.code === 503) reject(new NoRespondersError(subject));
        else resolve(msg);
      },
    });
    unsubscribe = () => {
      try {
        sub.unsubscribe();
      } catch {
        // Closed with its connection already.
      }
    };
    timer = setTimeout(() => {
      close();
      reject(new TimeoutError());
    }, timeoutMs);
    try {
      nc.publish(subject, data, { reply: inbox, headers: h });
    } catch (error) {
      close();
      reject(error as Error);
    }
  });
  return {
    reply,
    touch: () => {
      if (!closed) timer?.refresh();
    },
    close,
  };
}
