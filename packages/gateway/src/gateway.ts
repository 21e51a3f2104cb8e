import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { InvalidPathError, NotFoundError, RpError } from '@restpipe/core';
import { registerAdminRoutes, type MetricsSource, type NodeStatus } from './admin-routes.js';
import { registerBodyParser } from './body-parser.js';
import { registerAuth, type NonceJournalApi, type SigningKeyRing } from './auth.js';
import type { Broadcast } from './broadcast.js';
import { EVENT_METHODS, eventRoute, methodNotAllowed, type Send } from './event-route.js';
import { clientErrorResponse, sendFailure } from './http-errors.js';
import { registerHoldRoutes, type HoldsApi } from './hold-routes.js';
import { registerJobRoutes } from './job-routes.js';
import type { JobsApi } from './jobs-api.js';
import { requestIdOf } from './request-id.js';
import { registerStreamRoute } from './watch/stream-route.js';
import { Ticker } from './watch/ticker.js';
import { registerUiRoutes } from './watch/ui-routes.js';
import { registerWatchRoutes } from './watch/watch-routes.js';
import type { WatchSource } from './watch/watch-types.js';

const noJobs = (): undefined => undefined;

/** Room for slow clients on top of the event deadline: how long a whole body may stop arriving. */
const REQUEST_TIMEOUT_SLACK_MS = 10_000;
/** Slowloris guard: all headers within this. */
export const HEADERS_TIMEOUT_MS = 15_000;
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface GatewayOptions {
  status: NodeStatus;
  send: Send;
  /** Largest request body, as `--max-event-bytes`. */
  maxEventBytes: number;
  /** Default event deadline; bounds how long a request may take. */
  timeoutMs: number;
  exposeTracebacks: boolean;
  /** With a key, every route but `/_rp/health` needs `Authorization: Bearer KEY` (or, with signingKeys too, a signature). */
  apiKey?: string | undefined;
  /**
   * Key id -> secret. With keys, every route but `/_rp/health` needs an RFC 9421 signature
   * made with one of them (SPEC §10; see auth.ts); every key is valid at once, for rotation.
   */
  signingKeys?: ReadonlyMap<string, Buffer> | SigningKeyRing | undefined;
  /** Nonces of signed requests remembered at once (each for 660 s); past it, 503. @default DEFAULT_MAX_NONCES (262144) */
  maxNonces?: number | undefined;
  /** The node's store of nonces (its data directory), once open: a restart then forgets none. */
  nonceJournal?: (() => NonceJournalApi | undefined) | undefined;
  /** pino logger; none means silent. */
  logger?: FastifyBaseLogger | undefined;
  /** Serves `/_rp/metrics` when given. */
  metrics?: MetricsSource | undefined;
  /** The node's durable side (SPEC §8), once open; undefined (or none) with `--data-dir off`. */
  jobs?: (() => JobsApi | undefined) | undefined;
  /** The server's broadcast (SPEC §11): a broadcast (`/client/` then `*` then the noun) to every connected client. */
  broadcast?: Broadcast | undefined;
  /** The node's holds (SPEC §9), once open; undefined (or none) with `--data-dir off`. */
  holds?: (() => HoldsApi | undefined) | undefined;
  /**
   * The node's call log, closed connections and rates (SPEC §13): with them the gateway serves
   * `/_rp/events`, `/_rp/connections/closed`, `/_rp/stream` and the dashboard at `/_rp/ui`.
   */
  watch?: WatchSource | undefined;
  /** What the dashboard says this node runs (`restpipe/0.1.0 node/20.x`). */
  software?: string | undefined;
}

const UNSUPPORTED_METHODS = ['OPTIONS', 'TRACE'] as const;
/** Levels at which the per-request `http` debug line is written (and worth building). */
const DEBUG_LEVELS: ReadonlySet<string> = new Set(['debug', 'trace']);

/**
 * The local REST face of a node: `/server/...` on a client, `/client/NAME/...`
 * on the server, plus `/_rp/*`. Bodies stay raw Buffers end to end.
 */
export function createGateway(options: GatewayOptions): FastifyInstance {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: options.maxEventBytes,
    routerOptions: { maxParamLength: 8192 },
    exposeHeadRoutes: false,
    requestIdHeader: false,
    // The same key core uses, so one grep finds a request on both nodes.
    // Each event gets one info line per side from the pipe; HTTP lines are debug.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    genReqId: requestIdOf,
    return503OnClosing: true,
    // No bound on a whole request: a streamed body (SPEC §12) may take hours. Headers have
    // theirs, a whole body its idle limit (body-parser.ts), a stream its deadline's.
    requestTimeout: 0,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: { headersTimeout: HEADERS_TIMEOUT_MS },
    clientErrorHandler: (error, socket) => {
      // A response already went out on this socket (the parser failed on what
      // followed it): a second one would corrupt the stream, so just close.
      if (socket.bytesWritten > 0 || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(clientErrorResponse(error as Error & { code?: string }));
    },
    // URLs Fastify cannot decode never reach a route: answer them as envelopes too.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      const invalid = error.code === 'FST_ERR_BAD_URL' ? new InvalidPathError(`malformed URL: ${error.message}`, { cause: error }) : error;
      return sendFailure(reply, invalid, options.exposeTracebacks);
    },
  });
  registerBodyParser(app, options.maxEventBytes, options.timeoutMs + REQUEST_TIMEOUT_SLACK_MS, options.status.role === 'server' ? '/client/' : '/server/');
  // Callback hooks, not async ones: no promise per request for what is synchronous.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // A request target has no fragment (RFC 9112 origin-form). One would be read as query by
    // the router but is no part of what a signature covers: refused before anything reads it.
    if (request.raw.url?.includes('#')) return done(new InvalidPathError('a request target must not contain "#"'));
    done();
  });
  registerAuth(app, options);
  app.addHook('onResponse', (request, reply, done) => {
    if (DEBUG_LEVELS.has(request.log.level)) {
      request.log.debug({ method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: reply.elapsedTime }, 'http');
    }
    done();
  });
  app.setErrorHandler((error, request, reply) => {
    if (!(error instanceof RpError) && !(error as { statusCode?: number }).statusCode) {
      request.log.error({ err: error }, 'gateway failure');
    }
    return sendFailure(reply, error, options.exposeTracebacks);
  });
  app.setNotFoundHandler((request, reply) => notFound(request.method, request.url, options, reply));
  registerAdminRoutes(app, options.status, options.metrics);
  registerJobRoutes(app, options.jobs ?? noJobs);
  registerHoldRoutes(app, options.holds ?? noJobs);
  if (options.watch) registerWatch(app, options, options.watch);
  registerEventRoutes(app, options);
  return app;
}

function registerWatch(app: FastifyInstance, options: GatewayOptions, watch: WatchSource): void {
  registerWatchRoutes(app, watch, options.status);
  const sources = { status: options.status, watch, jobs: options.jobs ?? noJobs, holds: options.holds ?? noJobs, software: options.software ?? '' };
  const ticker = new Ticker(sources, (error) => app.log.error({ err: (error as Error)?.message }, 'dashboard tick failed'));
  registerStreamRoute(app, ticker);
  registerUiRoutes(app);
}

function registerEventRoutes(app: FastifyInstance, options: GatewayOptions): void {
  const isServer = options.status.role === 'server';
  const prefix = isServer ? '/client/' : '/server/';
  const handler = eventRoute({
    prefix, withTarget: isServer, send: options.send, jobs: options.jobs ?? noJobs, broadcast: options.broadcast, exposeTracebacks: options.exposeTracebacks,
  });
  const methods = [...EVENT_METHODS, ...UNSUPPORTED_METHODS];
  app.route({ method: methods, url: `${prefix}*`, handler });
  app.route({ method: methods, url: prefix.slice(0, -1), handler: async (request, reply) => handler(request, reply) });
}

function notFound(method: string, url: string, options: GatewayOptions, reply: FastifyReply): FastifyReply {
  const prefix = options.status.role === 'server' ? '/client' : '/server';
  if (url === prefix || url.startsWith(`${prefix}/`)) {
    return sendFailure(reply, methodNotAllowed(reply, method), options.exposeTracebacks);
  }
  return sendFailure(reply, new NotFoundError(`no route ${method} ${url.split('?')[0]}; events go to ${prefix}/...`), options.exposeTracebacks);
}
