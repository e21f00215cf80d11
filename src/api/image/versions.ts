import type { FastifyInstance } from 'fastify';

/** Glance's version list (without the cache and multi-store versions): every one is served by /v2. */
const VERSIONS: [string, string][] = [
  ['v2.15', 'CURRENT'],
  ['v2.9', 'SUPPORTED'],
  ['v2.7', 'SUPPORTED'],
  ['v2.6', 'SUPPORTED'],
  ['v2.5', 'SUPPORTED'],
  ['v2.4', 'SUPPORTED'],
  ['v2.3', 'SUPPORTED'],
  ['v2.2', 'SUPPORTED'],
  ['v2.1', 'SUPPORTED'],
  ['v2.0', 'SUPPORTED'],
];

export function versionDocument(base: string) {
  return { versions: VERSIONS.map(([id, status]) => ({ id, status, links: [{ rel: 'self', href: `${base}/v2/` }] })) };
}

/**
 * Version discovery needs no token. The root answers 300 Multiple Choices, as Glance's
 * version negotiation does; /versions asks explicitly and gets 200.
 */
export function versionRoutes(app: FastifyInstance, base: string): void {
  const doc = versionDocument(base);
  app.get('/', async (_request, reply) => reply.code(300).send(doc));
  app.get('/versions', async () => doc);
}
