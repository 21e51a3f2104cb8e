/**
 * A server-sent-events parser fed text as it arrives (chunks may split anywhere, even a
 * CRLF): `push(text)` returns the messages completed so far as `{ event, data }`.
 * Comment lines (`: ping`) are skipped; a blank line ends a message.
 */
/** A line this long without an end means the stream is not SSE: the caller reconnects. */
const MAX_PENDING_CHARS = 16 * 1024 * 1024;

export class SseParser {
  #pending = '';
  #event = '';
  #data = [];
  #started = false;

  push(text) {
    this.#pending += text;
    if (!this.#started && this.#pending.length > 0) {
      this.#started = true;
      if (this.#pending.charCodeAt(0) === 0xfeff) this.#pending = this.#pending.slice(1);
    }
    const messages = [];
    const ends = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = ends.exec(this.#pending); m; m = ends.exec(this.#pending)) {
      // A lone CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (m[0] === '\r' && m.index === this.#pending.length - 1) break;
      this.#line(this.#pending.slice(start, m.index), messages);
      start = ends.lastIndex;
    }
    this.#pending = this.#pending.slice(start);
    if (this.#pending.length > MAX_PENDING_CHARS) throw new Error('the stream sent a line too long for SSE');
    return messages;
  }

  #line(line, messages) {
    if (line === '') {
      if (this.#data.length > 0) messages.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}
