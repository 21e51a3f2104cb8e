/**
 * The two charts, plain SVG built with createElementNS: events (and errors) per second, and
 * latency p50/p90/p99, over the points of the tick's `rates` (last 5 minutes, oldest first).
 */
import { byId, differ, svg } from './dom.js';
import { clock } from './format.js';

const H = 230;
/** The drawing is as wide as the card, so text keeps its real size on a phone. */
const widthOf = (target) => Math.max(300, Math.round(target.getBoundingClientRect().width) || 600);
const M = { left: 52, right: 12, top: 30, bottom: 42 };
const MINUTE_MS = 60000;

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** About this many gridlines above zero; the step decides how many there really are. */
const TICKS = 5;

/**
 * Round gridlines: a step of 1, 2 or 5 x 10^n (the smallest at or above max/TICKS), the top
 * the first multiple of it at or above `max`. 18.8 gives 0, 5, ... 20; 58 gives 0, 20, 40, 60.
 */
function niceTicks(max) {
  const v = max > 0 ? max : 1;
  const exp = 10 ** Math.floor(Math.log10(v / TICKS));
  const step = [1, 2, 5, 10].map((m) => m * exp).find((s) => s * TICKS >= v * 0.999999) ?? 10 * exp;
  const count = Math.max(1, Math.ceil(v / step - 1e-9));
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  // Each tick from its index, not by adding steps: 0.1 + 0.2 would not be 0.3.
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((i * step).toFixed(digits)));
  return { top: ticks[count], ticks, digits };
}

const label = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1));

function scales(W, times, series) {
  const values = series.flatMap((s) => s.values.filter(isNum));
  const { top, ticks, digits } = niceTicks(Math.max(0, ...values));
  const t1 = times.length ? times[times.length - 1] : Date.now();
  const t0 = times.length > 1 ? times[0] : t1 - 5 * MINUTE_MS;
  const span = Math.max(t1 - t0, 1);
  return {
    W, top, ticks, digits, t0, t1,
    x: (t) => M.left + ((t - t0) / span) * (W - M.left - M.right),
    y: (v) => H - M.bottom - (v / top) * (H - M.top - M.bottom),
  };
}

function axes(s, yTitle) {
  const { W } = s;
  const parts = [];
  for (const v of s.ticks) {
    parts.push(svg('line', { class: 'gridline', x1: M.left, x2: W - M.right, y1: s.y(v), y2: s.y(v) }));
    parts.push(svg('text', { class: 'tick', x: M.left - 6, y: s.y(v) + 4, 'text-anchor': 'end' }, v.toFixed(s.digits)));
  }
  for (let k = 0; s.t1 - k * MINUTE_MS >= s.t0 - 1; k += 1) {
    const x = s.x(s.t1 - k * MINUTE_MS);
    parts.push(svg('line', { class: 'axis', x1: x, x2: x, y1: H - M.bottom, y2: H - M.bottom + 4 }));
    parts.push(svg('text', { class: 'tick', x, y: H - M.bottom + 17, 'text-anchor': k === 0 ? 'end' : 'middle' }, k === 0 ? 'now' : `\u2212${k} min`));
  }
  parts.push(svg('line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }));
  parts.push(svg('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));
  parts.push(svg('text', { class: 'axis-title', x: 6, y: 16 }, yTitle));
  parts.push(svg('text', { class: 'axis-title', x: (M.left + W - M.right) / 2, y: H - 6, 'text-anchor': 'middle' }, 'time (last 5 minutes)'));
  return parts;
}

/** A line through the points that have a value; a gap (null) breaks it, a lone point is a dot. */
function line(s, times, values, cls) {
  let d = '';
  const dots = [];
  values.forEach((v, i) => {
    if (!isNum(v)) return;
    const cmd = isNum(values[i - 1]) ? 'L' : 'M';
    d += `${cmd}${s.x(times[i]).toFixed(1)} ${s.y(v).toFixed(1)}`;
    if (!isNum(values[i - 1]) && !isNum(values[i + 1])) dots.push(svg('circle', { class: `dot ${cls}`, cx: s.x(times[i]), cy: s.y(v), r: 2.5 }));
  });
  return [svg('path', { class: `line ${cls}`, d: d || 'M0 0' }), ...dots];
}

function legend(W, series) {
  let x = W - M.right;
  const parts = [];
  for (const s of [...series].reverse()) {
    const width = 28 + s.name.length * 7;
    x -= width;
    parts.push(svg('line', { class: `line ${s.cls}`, x1: x, x2: x + 16, y1: 12, y2: 12 }));
    parts.push(svg('text', { class: 'legend', x: x + 20, y: 16 }, s.name));
  }
  return parts;
}

/** One transparent band per point, whose <title> is its tooltip. */
function hits(s, times, series) {
  const step = times.length > 1 ? (s.W - M.left - M.right) / (times.length - 1) : 1;
  const value = (v) => (isNum(v) ? label(v) : '\u2014');
  return times.map((t, i) => svg('rect', { class: 'hit', x: Math.max(M.left, s.x(t) - step / 2), y: M.top, width: step, height: H - M.top - M.bottom },
    svg('title', null, `${clock(t)}: ${series.map((one) => `${one.name} ${value(one.values[i])}`).join(', ')}`)));
}

function draw(target, times, series, yTitle) {
  const s = scales(widthOf(target), times, series);
  target.setAttribute('viewBox', `0 0 ${s.W} ${H}`);
  const parts = [...axes(s, yTitle), ...legend(s.W, series)];
  for (const one of series) parts.push(...line(s, times, one.values, one.cls));
  if (!times.length) parts.push(svg('text', { x: s.W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data yet'));
  target.replaceChildren(...parts, ...hits(s, times, series));
}

const ratesChanged = differ();
let lastRates = null;
let resizing = false;

window.addEventListener('resize', () => {
  if (resizing || !lastRates) return;
  resizing = true;
  requestAnimationFrame(() => {
    resizing = false;
    drawRates(lastRates);
  });
});

export function renderCharts(rates) {
  if (!ratesChanged(rates)) return;
  lastRates = rates;
  drawRates(rates);
}

function drawRates(rates) {
  const points = Array.isArray(rates?.points) ? rates.points.filter((p) => p && isNum(p.t)) : [];
  const perS = isNum(rates?.bucketMs) && rates.bucketMs > 0 ? 1000 / rates.bucketMs : 1 / 5;
  const times = points.map((p) => p.t);
  draw(byId('chart-rate'), times, [
    { name: 'events/s', cls: 's-events', values: points.map((p) => (isNum(p.count) ? p.count * perS : null)) },
    { name: 'errors/s', cls: 's-errors', values: points.map((p) => (isNum(p.errors) ? p.errors * perS : null)) },
  ], 'events per second');
  draw(byId('chart-latency'), times,
    ['p50', 'p90', 'p99'].map((k) => ({ name: k, cls: `s-${k}`, values: points.map((p) => (isNum(p[k]) ? p[k] : null)) })),
    'latency (ms)');
}
