export { ClusterNode, BEAT_MS, NODE_LOST_MS, type ClusterNodeOptions, type ClusterView } from './cluster-node.js';
export type { ClusterTls } from './nats-link.js';
export type { ClusterClientInfo } from './scatter.js';
export { clientSubject } from './subjects.js';
