/**
 * Holds (`#holds`): what a peer asked for and why it waits; Approve and Deny on pending ones
 * call `POST /_rp/holds/ID/approve|deny` and say what came back, as text.
 */
import { authFetch, forgetKey } from './auth.js';
import { byId, differ, el, td, note, setText, timeCell } from './dom.js';
import { NONE, brief, dateTime, str, when } from './format.js';

const holdsChanged = differ();
let onUnauthorized = () => undefined;

/** Who decided, when and why; `null` while nobody has. */
function decided(h, format) {
  if (!h.decidedAt && !h.decidedBy) return null;
  const why = h.decisionReason ? `: ${h.decisionReason}` : '';
  return `${str(h.decidedBy)} at ${format(h.decidedAt)}${why}`;
}

/** The buttons come first: on a narrow screen the decision is what must not scroll out of sight. */
function holdRow(h) {
  const pending = h.status === 'pending';
  const args = brief(h.args, 4000);
  const query = brief(h.query, 4000);
  return el('tr', { 'data-hold': str(h.hold), class: pending ? 'pending' : null },
    el('td', { class: 'actions' }, pending ? [
      el('button', { type: 'button', class: 'approve' }, 'Approve'),
      ' ',
      el('button', { type: 'button', class: 'deny' }, 'Deny'),
    ] : NONE),
    td(str(h.status), `status st-${str(h.status)}`),
    td(str(h.hold), 'id'),
    td(str(h.peer)),
    td(str(h.verb)),
    td(str(h.noun)),
    // Cut for the tick: say so beside Approve, and where the whole hold is.
    td(h.truncated ? `${brief(h.args)} (cut: GET /_rp/holds/${str(h.hold)} has it all)` : brief(h.args), h.truncated ? 'brief cut' : 'brief', args),
    td(brief(h.query), 'brief', query),
    td(str(h.reason), 'reason', str(h.reason)),
    timeCell(h.createdAt, when),
    timeCell(h.expiresAt, when),
    td(decided(h, when) ?? NONE, 'decided', decided(h, dateTime)));
}

export function renderHolds(holds) {
  if (!holdsChanged(holds)) return;
  const enabled = holds?.enabled !== false;
  note('holds-note', !enabled ? 'Holds are off on this node.' : holds?.error ? `Holds could not be read: ${holds.error}` : '');
  const list = Array.isArray(holds?.list) ? holds.list.filter((h) => h && typeof h === 'object') : [];
  byId('holds').replaceChildren(...list.map(holdRow));
}

function say(text, ok) {
  const out = byId('hold-result');
  setText(out, text);
  out.setAttribute('data-ok', String(ok));
}

async function messageOf(response) {
  try {
    const body = await response.json();
    const message = body?.exception?.message;
    if (typeof message === 'string' && message) return message;
  } catch {
    // Not the error envelope: the status says enough.
  }
  return `HTTP ${response.status}`;
}

async function decide(id, action, buttons) {
  for (const b of buttons) b.disabled = true;
  say(`${action === 'approve' ? 'Approving' : 'Denying'} hold ${id}\u2026`, true);
  try {
    const response = await authFetch(`/_rp/holds/${encodeURIComponent(id)}/${action}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    if (response.ok) {
      const hold = await response.json().catch(() => null);
      say(`Hold ${id} is now ${str(hold?.status ?? (action === 'approve' ? 'approved' : 'denied'))}.`, true);
      return;
    }
    say(`Could not ${action} hold ${id}: ${await messageOf(response)}`, false);
    if (response.status === 401) {
      forgetKey();
      onUnauthorized();
    }
  } catch (error) {
    say(`Could not ${action} hold ${id}: ${error instanceof Error ? error.message : String(error)}`, false);
  }
  for (const b of buttons) b.disabled = false;
}

/** One listener for the table's buttons, whatever rows it has now. */
export function initHoldActions(unauthorized) {
  onUnauthorized = unauthorized;
  byId('holds').addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.approve, button.deny') : null;
    const row = button?.closest('tr[data-hold]');
    if (!button || !row || button.disabled) return;
    const action = button.classList.contains('approve') ? 'approve' : 'deny';
    void decide(row.getAttribute('data-hold'), action, [...row.querySelectorAll('button')]);
  });
}
