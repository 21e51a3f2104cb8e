/** The node card (`#health`, `#warnings`): what `/_rp/health` says and what should worry an operator. */
import { byId, differ, el, setText } from './dom.js';
import { dateTime, duration, str } from './format.js';

/** The certificate card turns amber below this many days (the gateway warns at the same point). */
const CERT_WARN_DAYS = 30;

const healthChanged = differ();
const warningsChanged = differ();

function certText(cert) {
  if (!cert) return ['unknown', ''];
  const days = Number(cert.daysLeft);
  const left = days < 0 ? `expired ${-days} days ago` : `${days} days left`;
  return [`${dateTime(cert.notAfter)} (${left})`, days < 0 ? 'bad' : days < CERT_WARN_DAYS ? 'warn' : ''];
}

function crlText(crl) {
  if (!crl) return ['none loaded', ''];
  return [`next update ${dateTime(crl.nextUpdate)}${crl.expired ? ' (expired)' : ''}`, crl.expired ? 'bad' : ''];
}

function clusterText(cluster) {
  if (!cluster || typeof cluster !== 'object') return null;
  const nodes = Array.isArray(cluster.nodes) ? cluster.nodes.map((n) => {
    const clients = Array.isArray(n?.clients) ? n.clients.length : n?.clients;
    return `${str(n?.node)}: ${str(clients)} clients`;
  }) : [];
  return `node ${str(cluster.node)}, NATS ${str(cluster.nats)}${nodes.length ? ` \u2014 ${nodes.join(', ')}` : ''}`;
}

function pipeText(node) {
  if (node.role === 'client') return node.connected ? 'connected to the server' : 'down (reconnecting)';
  return `${str(node.peers)} peer${node.peers === 1 ? '' : 's'} connected`;
}

function rows(node) {
  const cluster = clusterText(node.cluster);
  const items = [
    ['name', str(node.name)],
    ['role', str(node.role)],
    ['software', str(node.software)],
    ['pid', str(node.pid)],
    ['uptime', duration(node.uptimeS)],
    ['pipe', pipeText(node), node.role === 'client' && !node.connected ? 'bad' : ''],
    ['certificate', ...certText(node.cert)],
    ['CRL', ...crlText(node.crl)],
    cluster && ['cluster', cluster, node.cluster.nats === 'connected' ? '' : 'warn'],
  ].filter(Boolean);
  return items.flatMap(([name, value, cls]) => [el('dt', null, name), el('dd', { class: cls || null }, value)]);
}

/** Certificate and CRL warnings are the ones that end a pipe: they stand out. */
const isCertWarning = (text) => /certificate|\bcert\b|\bcrl\b|revoc/i.test(text);

export function renderHealth(node) {
  if (!node || typeof node !== 'object') return;
  if (healthChanged(node)) byId('health').replaceChildren(...rows(node));
  const title = `${str(node.name)} (${str(node.role)})`;
  setText(byId('node-title'), title);
  if (document.title !== `${title} \u00b7 restpipe`) document.title = `${title} \u00b7 restpipe`;
  const warnings = Array.isArray(node.warnings) ? node.warnings.map(String) : [];
  if (!warningsChanged(warnings)) return;
  byId('warnings').replaceChildren(...warnings.map((w) => el('li', { class: isCertWarning(w) ? 'cert' : null }, w)));
  byId('no-warnings').hidden = warnings.length > 0;
}
