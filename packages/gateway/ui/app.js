/**
 * The restpipe dashboard (SPEC section 13): one `/_rp/stream` connection, and on every tick each
 * card redraws from the tick's data if that data changed. Everything a peer controls is
 * put in the page as text (see dom.js).
 */
import { initKeyPrompt } from './auth.js';
import { calls, initCallFilters, renderCalls } from './calls.js';
import { renderCharts } from './charts.js';
import { byId, setText } from './dom.js';
import { clock } from './format.js';
import { renderHealth } from './health.js';
import { initHoldActions, renderHolds } from './holds.js';
import { startStream } from './stream.js';
import { closed, renderClients, renderClosed, renderJobs } from './tables.js';

/** The node a tick came from: a restarted node numbers its logs from 1 again. */
let nodeIdentity = null;

function part(name, draw) {
  try {
    draw();
  } catch (error) {
    console.error(`restpipe dashboard: the ${name} card could not be drawn`, error);
  }
}

function onTick(tick) {
  if (!tick || typeof tick !== 'object') return;
  const identity = tick.node ? `${tick.node.name}|${tick.node.pid}|${tick.node.instance ?? ''}` : null;
  if (identity !== nodeIdentity) {
    if (nodeIdentity !== null) {
      calls.clear();
      closed.clear();
    }
    nodeIdentity = identity;
  }
  calls.add(tick.events);
  closed.add(tick.closed);
  part('node', () => renderHealth(tick.node));
  part('clients', () => renderClients(tick.clients));
  part('charts', () => renderCharts(tick.rates));
  part('call log', renderCalls);
  part('closed connections', renderClosed);
  part('jobs', () => renderJobs(tick.jobs));
  part('holds', () => renderHolds(tick.holds));
  setText(byId('last-tick'), `last tick ${clock(tick.at)}`);
}

function onState(state) {
  const node = byId('conn-state');
  setText(node, state);
  node.setAttribute('data-state', state.replace(' ', '-'));
  document.documentElement.setAttribute('data-conn', state.replace(' ', '-'));
}

initKeyPrompt();
initCallFilters();
const restart = startStream({ onTick, onState });
initHoldActions(restart);
