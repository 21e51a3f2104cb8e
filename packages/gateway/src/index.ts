export { createGateway, type GatewayOptions, HEADERS_TIMEOUT_MS } from './gateway.js';
export { parseEventPath, parseQuery, type EventPath } from './event-path.js';
export { listenGateway, parseGatewayAddress, parseHostPort, type GatewayAddress } from './listen.js';
export { type NodeStatus, type MetricsSource } from './admin-routes.js';
export { EVENT_METHODS, MAX_EVENT_TIMEOUT_MS, type Send } from './event-route.js';
export { viewOf, sendFailure, RETURN_CODE_HEADER } from './http-errors.js';
export { bearerMatches } from './api-key.js';
export { type JobsApi } from './jobs-api.js';
export { parsePrefer, idempotencyKeyOf, jobTtlOf, MAX_WAIT_SECONDS, type Preferences } from './prefer.js';
