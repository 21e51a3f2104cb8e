import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The page and its assets, beside dist/ in the package. */
export const UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

/** Nothing but this gateway: no inline script, no other host, no framing. */
export const UI_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
].join('; ');

function secure(reply: FastifyReply): void {
  reply.header('content-security-policy', UI_CSP);
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cache-control', 'no-cache');
}

/** `GET /_rp/ui` and `/_rp/ui/FILE` (SPEC §13): the dashboard, open to all (its data routes are not). */
export function registerUiRoutes(app: FastifyInstance): void {
  void app.register(fastifyStatic, {
    root: UI_DIR,
    prefix: '/_rp/ui/',
    index: ['index.html'],
    dotfiles: 'deny',
    etag: true,
    lastModified: false,
    setHeaders: secure,
  });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/_rp/ui',
    handler: (_request, reply) => {
      secure(reply);
      return reply.sendFile('index.html');
    },
  });
}
