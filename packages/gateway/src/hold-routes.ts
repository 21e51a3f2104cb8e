/**
 * The hold routes of SPEC §9, on the holding node: `GET /_rp/holds`, `GET /_rp/holds/ID`,
 * `POST /_rp/holds/ID/approve` and `POST /_rp/holds/ID/deny` (optional JSON
 * `{"reason","digest"}`). Decisions are POSTs only: mail scanners follow links. The
 * decision is recorded under who made the request (principal.ts). Without a data
 * directory: 501 NotEnabledError.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ForbiddenError,
  InvalidBodyError,
  isJsonMime,
  InvalidRequestError,
  isHoldStatus,
  HOLD_STATUSES,
  MAX_HOLD_REASON_LENGTH,
  NotEnabledError,
  type HoldDecision,
  type HoldStatus,
  type HoldView,
} from '@restpipe/core';
import { principalOf } from './principal.js';
import { listLimitOf, singleQueryValue } from './list-query.js';

/** What the gateway needs of a node's holds (core's HoldDesk). */
export interface HoldsApi {
  list(status: HoldStatus | undefined, limit: number): HoldView[];
  view(id: string): HoldView;
  approve(id: string, by: string, decision?: HoldDecision): Promise<HoldView>;
  deny(id: string, by: string, decision?: HoldDecision): Promise<HoldView>;
}

const DIGEST = /^[0-9a-f]{64}$/;

function requireHolds(holds: () => HoldsApi | undefined): HoldsApi {
  const api = holds();
  if (!api) throw new NotEnabledError('this node keeps no holds (--data-dir off)');
  return api;
}

export function registerHoldRoutes(app: FastifyInstance, holds: () => HoldsApi | undefined): void {
  app.get<{ Querystring: Record<string, string | string[]> }>('/_rp/holds', async (request) => {
    const api = requireHolds(holds);
    const status = singleQueryValue(request.query, 'status');
    if (status !== undefined && !isHoldStatus(status)) throw new InvalidRequestError(`status must be one of ${HOLD_STATUSES.join(', ')}`);
    return api.list(status, listLimitOf(request.query));
  });
  app.get<{ Params: { id: string } }>('/_rp/holds/:id', async (request) => requireHolds(holds).view(request.params.id));
  app.post<{ Params: { id: string } }>('/_rp/holds/:id/approve', async (request) =>
    requireHolds(holds).approve(request.params.id, principalOf(request), decisionOf(request)));
  app.post<{ Params: { id: string } }>('/_rp/holds/:id/deny', async (request) =>
    requireHolds(holds).deny(request.params.id, principalOf(request), decisionOf(request)));
}

/**
 * A decision made by a browser page of another site is refused: on a gateway without a key,
 * any page the approver has open could otherwise POST an approval to 127.0.0.1 (a "simple"
 * cross-site request needs no preflight). Browsers say where a request comes from.
 */
function checkSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ForbiddenError(`a decision from another site (Sec-Fetch-Site: ${String(site).slice(0, 32)}) is refused`);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new ForbiddenError('a decision with a malformed Origin is refused');
  }
  if (host !== request.headers.host) throw new ForbiddenError('a decision from another origin is refused');
}

/** The optional JSON body of a decision; anything else is 400, and nothing is decided. */
function decisionOf(request: FastifyRequest): HoldDecision {
  checkSameOrigin(request);
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (body.length === 0) return {};
  if (!isJsonMime(request.headers['content-type'] ?? '')) throw new InvalidBodyError('a decision body must be application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new InvalidBodyError('a decision body must be JSON: {"reason": "...", "digest": "..."}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidBodyError('a decision body must be a JSON object');
  const { reason, digest } = parsed as Record<string, unknown>;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_HOLD_REASON_LENGTH)) {
    throw new InvalidBodyError(`reason must be a string of at most ${MAX_HOLD_REASON_LENGTH} characters`);
  }
  if (digest !== undefined && (typeof digest !== 'string' || !DIGEST.test(digest))) throw new InvalidBodyError('digest must be 64 lower-case hex digits');
  return { ...(reason === undefined ? {} : { reason }), ...(digest === undefined ? {} : { digest }) };
}
