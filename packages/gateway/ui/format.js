/** How values from the server read on the page (pure functions, no DOM). */
export const NONE = '\u2014';

const pad = (n, width = 2) => String(n).padStart(width, '0');
const hms = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

function dateOf(iso) {
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isFinite(ms) ? new Date(ms) : null;
}

function timeText(iso, pick) {
  if (iso === null || iso === undefined || iso === '') return NONE;
  const d = dateOf(iso);
  return d ? pick(d) : String(iso);
}

/** Local `YYYY-MM-DD HH:MM:SS`; anything unparsable is shown as it came. */
export const dateTime = (iso) => timeText(iso, (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms(d)}`);

/** Local `HH:MM:SS` for a time today, the whole date and time otherwise: for narrow columns. */
export const when = (iso) => timeText(iso, (d) => (d.toDateString() === new Date().toDateString() ? hms(d) : dateTime(d.getTime())));

/** Local `HH:MM:SS.mmm`, for the call log. */
export const clock = (iso) => timeText(iso, (d) => `${hms(d)}.${pad(d.getMilliseconds(), 3)}`);

/** `3d 4h`, `2h 5m`, `4m 10s`, `9s`. */
export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return NONE;
  const s = Math.max(0, Math.round(seconds));
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A number as a table shows it: integers as they are, others to `digits` places. */
export function num(value, digits = 1) {
  if (typeof value !== 'number') return str(value);
  if (!Number.isFinite(value)) return NONE;
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

/** Any value as one line of text; arrays (a noun's segments) joined by `/`. */
export function str(value) {
  if (value === null || value === undefined || value === '') return NONE;
  if (Array.isArray(value)) return value.join('/');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Args, a query or a job's result as JSON text, cut to `max` characters. */
export function brief(value, max = 160) {
  if (value === null || value === undefined) return NONE;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}\u2026` : text;
}

/**
 * A long id cut for a narrow column: its first `keep` characters and an ellipsis (`from: 'end'`:
 * an ellipsis and its last ones, the random part of a ULID). The cell's title keeps all of it.
 */
export function shortId(value, keep = 8, from = 'start') {
  const text = str(value);
  if (text.length <= keep + 1) return text;
  return from === 'end' ? `\u2026${text.slice(-keep)}` : `${text.slice(0, keep)}\u2026`;
}

/** `2xx`, `4xx`, ... or '' for a missing status. */
export function statusClass(status) {
  return typeof status === 'number' && status >= 100 ? `${Math.floor(status / 100)}xx` : '';
}
