import { describe, expect, it } from 'vitest';
import { ReplyKind, type ReplyFrame } from '@restpipe/wire';
import { PendingRequests } from './pending.js';

const replyTo = (id: number): ReplyFrame => ({ id, returnCode: 0, mimeType: '', data: Buffer.alloc(0), kind: ReplyKind.VALUE, status: 200 });

describe('PendingRequests', () => {
  it('settles each request exactly once and drops late replies, counting them', async () => {
    const pending = new PendingRequests<string>({ reply: (r) => r, timeout: (_id, what) => new Error(what) });
    const id = pending.nextId();
    const reply = pending.add(id, 20, 'deadline');
    await expect(reply).rejects.toThrow('deadline');
    expect(pending.resolve(replyTo(id))).toBe(false);
    expect(pending.lateReplies).toBe(1);
    expect(pending.size).toBe(0);
  });

  it('delivers a reply to the request with its id and no other', async () => {
    const pending = new PendingRequests<string>({ reply: (r) => r, timeout: (_id, what) => new Error(what) });
    const a = pending.nextId();
    const aReply = pending.add(a, 1000, 'a');
    const b = pending.nextId();
    const bReply = pending.add(b, 1000, 'b');
    pending.resolve({ ...replyTo(b), returnCode: 7 });
    pending.resolve({ ...replyTo(a), returnCode: 3 });
    expect((await aReply).returnCode).toBe(3);
    expect((await bReply).returnCode).toBe(7);
    expect(pending.reject(a, new Error('late'))).toBe(false);
  });

  it('rejects everything when asked, and then holds nothing', async () => {
    const pending = new PendingRequests<string>({ reply: (r) => r, timeout: (_id, what) => new Error(what) });
    const replies = Array.from({ length: 5 }, () => pending.add(pending.nextId(), 1000, 't'));
    pending.rejectAll(new Error('gone'));
    for (const r of replies) await expect(r).rejects.toThrow('gone');
    expect(pending.size).toBe(0);
  });
});
