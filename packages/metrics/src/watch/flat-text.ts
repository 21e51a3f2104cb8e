/**
 * Text a peer sent, cut to `max` characters for a log that keeps it for long. The cut is a
 * copy of its own: a V8 slice would keep the whole original (megabytes) alive with it.
 */
export function flatText(text: string, max: number): string {
  if (text.length <= max) return text;
  return Buffer.from(`${text.slice(0, max)}…`, 'utf8').toString('utf8');
}
