import { describe, expect, it } from 'vitest';
import { ReplyKind, type ReplyFrame } from '@restpipe/wire';
import { PendingRequests } from './pending.js';

const replyTo = (id: number): ReplyFrame => ({ id, returnCode: 0, mimeType: '', data: Buffer.alloc(0), kind: ReplyKind.VALUE, status: 200 });

describe('PendingRequests', () => {
  it('settles each request exactly once and drops late replies, counting them', async () => {
    const pending = new PendingRequests();
    const { id, reply } = pending.add(20, () => new Error('deadline'));
    await expect(reply).rejects.toThrow('deadline');
    expect(pending.resolve(replyTo(id))).toBe(false);
    expect(pending.lateReplies).toBe(1);
    expect(pending.size).toBe(0);
  });

  it('delivers a reply to the request with its id and no other', async () => {
    const pending = new PendingRequests();
    const a = pending.add(1000, () => new Error('a'));
    const b = pending.add(1000, () => new Error('b'));
    pending.resolve({ ...replyTo(b.id), returnCode: 7 });
    pending.resolve({ ...replyTo(a.id), returnCode: 3 });
    expect((await a.reply).returnCode).toBe(3);
    expect((await b.reply).returnCode).toBe(7);
    expect(pending.reject(a.id, new Error('late'))).toBe(false);
  });

  it('rejects everything when asked, and then holds nothing', async () => {
    const pending = new PendingRequests();
    const replies = Array.from({ length: 5 }, () => pending.add(1000, () => new Error('t')).reply);
    pending.rejectAll(new Error('gone'));
    for (const r of replies) await expect(r).rejects.toThrow('gone');
    expect(pending.size).toBe(0);
  });
});
