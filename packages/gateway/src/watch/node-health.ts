import { certificateHealth, type NodeStatus } from '../admin-routes.js';

/** A certificate that ends within this many days is a warning on the page. */
export const CERT_WARN_DAYS = 30;
/** A CRL whose nextUpdate is this close is a warning too: the next one should be out by then. */
const CRL_WARN_MS = 24 * 3600_000;

export interface NodeHealth {
  /** Differs for each start of the process, so a page tells a restart from the same life (a pid may be 1 every time). */
  instance: string;
  role: 'server' | 'client';
  name: string;
  software: string;
  pid: number;
  uptimeS: number;
  connected: boolean;
  peers: number;
  cert: { notAfter: string; daysLeft: number } | null;
  crl: { nextUpdate: string; expired: boolean } | null;
  warnings: string[];
  cluster: object | null;
}

/** The dashboard's node card: `/_rp/health` and what should worry an operator. */
export function nodeHealth(status: NodeStatus, software: string, startedAt: number, instance: string): NodeHealth {
  const cert = certificateHealth(status) ?? null;
  const crl = status.crl?.() ?? null;
  const cluster = status.cluster?.();
  const inCluster = cluster && cluster.cluster !== 'off' ? cluster : null;
  return {
    instance,
    role: status.role,
    name: status.name,
    software,
    pid: process.pid,
    uptimeS: Math.round((Date.now() - startedAt) / 1000),
    connected: status.connected(),
    peers: status.peers(),
    cert,
    crl,
    warnings: warningsOf(status, cert, crl, inCluster),
    cluster: inCluster,
  };
}

function warningsOf(
  status: NodeStatus, cert: NodeHealth['cert'], crl: NodeHealth['crl'], cluster: { nats: string } | null,
): string[] {
  const warnings: string[] = [];
  if (cert && cert.daysLeft < 0) warnings.push(`the certificate expired on ${cert.notAfter}`);
  else if (cert && cert.daysLeft < CERT_WARN_DAYS) warnings.push(`the certificate expires in ${cert.daysLeft} days (${cert.notAfter})`);
  if (crl?.expired) warnings.push(`the CRL is past its nextUpdate (${crl.nextUpdate}): publish a new one`);
  else if (crl && Date.parse(crl.nextUpdate) - Date.now() < CRL_WARN_MS) warnings.push(`the CRL's nextUpdate is within a day (${crl.nextUpdate})`);
  if (cluster && cluster.nats !== 'connected') warnings.push('the NATS link is down: clients of other nodes cannot be reached');
  if (status.role === 'client' && !status.connected()) warnings.push('the pipe to the server is down (reconnecting)');
  return warnings;
}
