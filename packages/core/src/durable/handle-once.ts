/**
 * The receiving side of SPEC §8's exactly-once effect. An event with an idempotency key
 * is recorded, durably, as started before its handler runs, and its reply after, before
 * the reply is sent. A repeat gets the stored reply (`replayed`) and the handler does not
 * run; a key still running here is 409; a key whose handler was running when an earlier
 * boot died is never run: 500 IndeterminateError. At-most-once execution under
 * at-least-once delivery.
 */
import {
  BodyTooLargeError,
  IdempotencyKeyInUseError,
  IdempotencyKeyMismatchError,
  IndeterminateError,
  InvalidRequestError,
  NotEnabledError,
  StoreError,
  type EventFrame,
} from '@restpipe/wire';
import type { BeginOutcome, StoredReply } from '@restpipe/store';
import { digestOf } from '../event-fingerprint.js';
import { exceptionReply, handleEvent, type HandlerEnv, type ReplyFields } from '../handle-event.js';
import { isIdempotencyKey } from '../idempotency-key.js';
import { checkReplyBytes } from '../wire-values.js';
import type { LazyAbort } from '../lazy-abort.js';
import type { IdempotencyGate } from './idempotency-gate.js';

/** Runs an event that carries an idempotency key; never rejects. */
export async function handleOnce(event: EventFrame, env: HandlerEnv, abort: LazyAbort): Promise<ReplyFields> {
  const gate = env.idempotency;
  const key = event.idempotencyKey!;
  // The key is the peer's: checked as ours are, before it reaches a handler, a log or the disk.
  if (!isIdempotencyKey(key)) return refused(new InvalidRequestError('the idempotency key must be 1 to 255 printable ASCII characters'), env);
  if (!gate) return refused(new NotEnabledError('the receiving node keeps no idempotency records (--data-dir off)'), env);
  let outcome: BeginOutcome;
  try {
    outcome = await gate.begin(env.peer.name, key, digestOf(event));
  } catch (error) {
    return refused(new StoreError(`the receiving node could not record the idempotency key: ${(error as Error).message}`), env);
  }
  switch (outcome.state) {
    case 'new':
      return runAndRecord(event, env, abort, gate, key);
    case 'done':
      return replay(outcome.reply, env);
    case 'started':
      return refused(new IdempotencyKeyInUseError('the first request with this idempotency key is still running'), env);
    case 'mismatch':
      return refused(new IdempotencyKeyMismatchError('this idempotency key was used for another request'), env);
    case 'indeterminate':
      return refused(new IndeterminateError('the handler for this idempotency key was running when the node stopped; it is not run again'), env);
  }
}

/** The stored reply, sent again; one the peer can no longer take (its max-event-bytes shrank) fails alone. */
function replay(stored: StoredReply, env: HandlerEnv): ReplyFields {
  try {
    checkReplyBytes(stored.body.length, env.maxReplyBytes);
  } catch (error) {
    return refused(error as Error, env);
  }
  return { ...stored, data: Buffer.from(stored.body), kind: stored.kind as ReplyFields['kind'], handlerName: '', replayed: true };
}

async function runAndRecord(event: EventFrame, env: HandlerEnv, abort: LazyAbort, gate: IdempotencyGate, key: string): Promise<ReplyFields> {
  let fields = await handleEvent(event, env, abort);
  if (fields.stream) {
    // Recorded before it is sent, a stream would replay as an empty 200: a keyed reply must be whole.
    fields.stream.destroy();
    fields = { ...exceptionReply(new BodyTooLargeError('the handler answered a keyed request with a stream; a keyed reply must fit in --max-event-bytes'), false), handlerName: fields.handlerName };
  }
  // No outcome (a hold the store could not keep): the key is let go, so that the next delivery is new again.
  if (fields.transient) {
    await gate.abandon(env.peer.name, key);
    return fields;
  }
  await gate.finish(env.peer.name, key, {
    kind: fields.kind,
    status: fields.status,
    returnCode: fields.returnCode,
    mimeType: fields.mimeType,
    body: fields.data,
  });
  return fields;
}

function refused(error: Error, env: HandlerEnv): ReplyFields {
  return { ...exceptionReply(error, env.exposeTracebacks), handlerName: '' };
}
