/** The call log (`#calls`): up to 1000 events kept, at most 200 rows shown after the filters. */
import { byId, el, setText, td, timeCell } from './dom.js';
import { clock, num, statusClass, str } from './format.js';
import { SeqLog } from './seqlog.js';

export const MAX_KEPT = 1000;
export const MAX_SHOWN = 200;

export const calls = new SeqLog(MAX_KEPT);
let shownVersion = -1;
let filtersVersion = 0;
let shownFilters = -1;

function filters() {
  return {
    peer: byId('filter-peer').value.trim().toLowerCase(),
    handler: byId('filter-handler').value.trim().toLowerCase(),
    status: byId('filter-status').value,
  };
}

function matches(event, f) {
  if (f.peer && !str(event.peer).toLowerCase().includes(f.peer)) return false;
  if (f.handler && !str(event.handler).toLowerCase().includes(f.handler)) return false;
  return f.status === 'all' || statusClass(event.status) === f.status;
}

function row(e) {
  const cls = statusClass(e.status);
  return el('tr', { 'data-request-id': str(e.requestId), class: cls ? `s${cls}` : null },
    timeCell(e.at, clock),
    td(str(e.direction), `dir ${e.direction === 'in' ? 'in' : 'out'}`),
    td(str(e.peer)),
    td(str(e.requestId), 'id'),
    td(str(e.verb)),
    td(str(e.noun)),
    td(str(e.handler)),
    td(num(e.status), 'n status'),
    td(num(e.returnCode), 'n'),
    td(num(e.durationMs), 'n'),
    td(num(e.bytesIn), 'n'),
    td(num(e.bytesOut), 'n'),
    td(e.error ? str(e.error) : '', 'error', e.error ?? null));
}

/** Redraws only when events arrived or a filter changed since the last time. */
export function renderCalls() {
  if (calls.version === shownVersion && filtersVersion === shownFilters) return;
  shownVersion = calls.version;
  shownFilters = filtersVersion;
  const f = filters();
  const rows = [];
  let matching = 0;
  for (const event of calls.entries) {
    if (!matches(event, f)) continue;
    matching += 1;
    if (rows.length < MAX_SHOWN) rows.push(row(event));
  }
  byId('calls').replaceChildren(...rows);
  const kept = calls.entries.length;
  setText(byId('calls-count'), matching > rows.length
    ? `newest ${rows.length} of ${matching} matching (${kept} kept)`
    : `${matching} of ${kept} kept`);
}

export function initCallFilters() {
  const changed = () => {
    filtersVersion += 1;
    renderCalls();
  };
  byId('filter-peer').addEventListener('input', changed);
  byId('filter-handler').addEventListener('input', changed);
  byId('filter-status').addEventListener('change', changed);
}
