import { describe, expect, it } from 'vitest';
import { CloseReason } from './state.js';
import { MAX_PEER_TEXT_LENGTH, peerReason, peerText } from './peer-text.js';

describe('text from a peer', () => {
  it('keeps every reason we send, and a newer word', () => {
    for (const reason of Object.values(CloseReason)) expect(peerReason(reason)).toBe(reason);
    expect(peerReason('node_moving')).toBe('node_moving');
  });

  it.each([['', ''], ['long', 'r'.repeat(65)], ['huge', 'r'.repeat(1 << 20)], ['spaced', 'a b'], ['upper', 'Shutdown'], ['newline', 'shutdown\n']])(
    'makes a %s reason `unknown`', (_what, raw) => {
      expect(peerReason(raw)).toBe('unknown');
    });

  it('keeps a short message, controls as spaces', () => {
    expect(peerText('replaced by a newer connection')).toBe('replaced by a newer connection');
    expect(peerText('a\nb\x1b[31mc\u2028d')).toBe('a b [31mc d');
    expect(peerText('caf\u00e9')).toBe('caf\u00e9');
  });

  it('cuts a long message, saying how long it was', () => {
    const text = peerText('m'.repeat(4 << 20));
    expect(text.length).toBeLessThan(MAX_PEER_TEXT_LENGTH + 40);
    expect(text).toBe(`${'m'.repeat(MAX_PEER_TEXT_LENGTH)}... (${4 << 20} characters)`);
  });
});
