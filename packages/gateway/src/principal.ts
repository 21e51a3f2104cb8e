import type { FastifyRequest } from 'fastify';

/**
 * Who made a gateway request, as the authentication hook proved it: the key id of a
 * verified signature (SPEC §10), `api-key` for a matching bearer key, or `local` when the
 * gateway asks for neither. What a hold's `decidedBy` records (SPEC §9).
 */
const principals = new WeakMap<FastifyRequest, string>();

export const LOCAL_PRINCIPAL = 'local';
export const API_KEY_PRINCIPAL = 'api-key';

export function setPrincipal(request: FastifyRequest, principal: string): void {
  principals.set(request, principal);
}

export function principalOf(request: FastifyRequest): string {
  return principals.get(request) ?? LOCAL_PRINCIPAL;
}
