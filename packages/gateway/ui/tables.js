/** The clients, closed connections and jobs tables, redrawn only when their data changed. */
import { byId, differ, el, td, note, setText, timeCell } from './dom.js';
import { NONE, brief, dateTime, num, shortId, str, when } from './format.js';
import { SeqLog } from './seqlog.js';

const CERT_WARN_DAYS = 30;
const DAY_MS = 86400000;
const JOB_STATUSES = ['queued', 'running', 'on_hold', 'succeeded', 'failed', 'expired', 'cancelled'];

const pair = (a, b) => `${num(a)} / ${num(b)}`;

/** What a glance needs first (state to errors), then what identifies it (address to cert). */
function clientRow(c) {
  const online = c.online !== false;
  const left = (Date.parse(c.notAfter) - Date.now()) / DAY_MS;
  const state = online
    ? td('online', 'ok')
    : el('td', { class: 'muted', title: typeof c.lastSeen === 'string' ? `offline since ${c.lastSeen}` : null }, `offline since ${when(c.lastSeen)}`);
  return el('tr', { 'data-client': str(c.name), 'data-online': String(online), class: online ? null : 'offline' },
    state,
    td(str(c.name)),
    td(str(c.node)),
    td(num(c.rttMs), 'n'),
    td(num(c.inFlight), 'n'),
    td(pair(c.eventsIn, c.eventsOut), 'n'),
    td(pair(c.errorsIn, c.errorsOut), c.errorsIn || c.errorsOut ? 'n bad' : 'n'),
    td(str(c.address)),
    td(str(c.software)),
    td(shortId(c.serial), 'id', c.serial == null ? null : str(c.serial)),
    td(dateTime(c.notAfter), left < CERT_WARN_DAYS ? 'warn time' : 'time', c.notAfter));
}

const clientsChanged = differ();

export function renderClients(clients) {
  if (!clientsChanged(clients)) return;
  byId('clients').closest('.scroll').hidden = !Array.isArray(clients);
  if (!Array.isArray(clients)) {
    note('clients-note', 'This is a client node: its one peer is the server.');
    byId('clients').replaceChildren();
    return;
  }
  const list = clients.filter((c) => c && typeof c === 'object');
  // Online first, then by name: rows stay put from one tick to the next.
  list.sort((a, b) => (a.online === false) - (b.online === false) || str(a.name).localeCompare(str(b.name)));
  const offline = list.filter((c) => c.online === false).length;
  note('clients-note', list.length ? `${list.length - offline} online, ${offline} offline` : 'No client has connected yet.');
  byId('clients').replaceChildren(...list.map(clientRow));
}

export const closed = new SeqLog(500);
const CLOSED_SHOWN = 200;
let closedShown = -1;

export function renderClosed() {
  if (closed.version === closedShown) return;
  closedShown = closed.version;
  const rows = closed.entries.slice(0, CLOSED_SHOWN).map((c) => el('tr', { class: c.refused ? 'refused' : null },
    timeCell(c.at, when),
    td(c.refused ? 'yes' : 'no', c.refused ? 'refused bad' : 'refused'),
    td(str(c.peer)),
    td(str(c.address)),
    td(str(c.reason), 'reason', str(c.reason))));
  byId('closed').replaceChildren(...rows);
  setText(byId('closed-count'), `${rows.length} of ${closed.entries.length} kept`);
}

const jobsChanged = differ();

function jobRow(j) {
  // `id` is the durable store's name for it, should a list come from there unconverted.
  const id = str(j.job ?? j.id);
  return el('tr', { 'data-job': id },
    td(id, 'id'),
    td(str(j.status), `status st-${str(j.status)}`),
    td(str(j.target)),
    td(str(j.verb)),
    td(str(j.noun)),
    td(num(j.attempts), 'n'),
    td(j.hold ? shortId(j.hold, 8, 'end') : NONE, 'id', j.hold ? str(j.hold) : null),
    td(brief(j.result, 80), 'brief', j.result == null ? null : brief(j.result, 2000)),
    timeCell(j.createdAt, when),
    timeCell(j.updatedAt, when));
}

export function renderJobs(jobs) {
  if (!jobsChanged(jobs)) return;
  const counts = jobs?.counts && typeof jobs.counts === 'object' ? jobs.counts : {};
  const statuses = [...JOB_STATUSES, ...Object.keys(counts).filter((s) => !JOB_STATUSES.includes(s))];
  byId('job-counts').replaceChildren(...statuses.map((s) => el('li', { 'data-status': s, class: counts[s] ? 'some' : null },
    el('span', { class: 'count' }, jobs?.countCap && counts[s] >= jobs.countCap ? `${num(jobs.countCap)}+` : num(counts[s] ?? 0)), ' ', s.replace('_', ' '))));
  const enabled = jobs?.enabled !== false;
  note('jobs-note', !enabled ? 'Durable jobs are off on this node.' : jobs?.error ? `Jobs could not be read: ${jobs.error}` : '');
  const list = Array.isArray(jobs?.list) ? jobs.list.filter((j) => j && typeof j === 'object') : [];
  byId('jobs').replaceChildren(...list.map(jobRow));
}
