/**
 * DOM building that never parses markup: only createElement(NS), setAttribute and text
 * nodes, so whatever a peer sent (names, request ids, reasons, args) can only ever be text.
 */
import { dateTime } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    // Event handlers and inline styles are what a markup injection would reach for; the CSP blocks them too.
    if (/^on/i.test(name) || name.toLowerCase() === 'style') throw new Error(`attribute ${name} is not allowed`);
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** `el('td', { class: 'n' }, 'text', otherNode)`: an HTML element. */
export function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** Sets text only when it differs, so an unchanged tick touches nothing. */
export function setText(node, text) {
  const value = String(text);
  if (node.textContent !== value) node.textContent = value;
}

/** A table cell: `td(text)`, `td(text, 'n')`. */
export const td = (text, cls, title) => el('td', { class: cls || null, title: title ?? null }, text);

/** A note under a card's title: shown with `text`, hidden when there is none. */
export function note(id, text) {
  const node = byId(id);
  setText(node, text);
  node.hidden = !text;
}

/** A cell holding a time: short local form, the server's ISO string as its tooltip. */
export function timeCell(iso, format = dateTime) {
  return el('td', { class: 'time', title: typeof iso === 'string' ? iso : null }, format(iso));
}

/** A function that says whether `value` differs from what it was given last time. */
export function differ() {
  let last;
  return (value) => {
    const now = JSON.stringify(value) ?? 'undefined';
    if (now === last) return false;
    last = now;
    return true;
  };
}
