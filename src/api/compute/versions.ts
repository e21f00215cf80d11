import type { FastifyInstance } from 'fastify';
import { MAX_VERSION, MIN_VERSION, negotiate } from './microversion.js';

/** Nova's version documents: the root lists v2.0 first, then v2.1; each answers at its own URL. */
export function versionDocuments(base: string) {
  const v20 = {
    id: 'v2.0',
    status: 'SUPPORTED',
    version: '',
    min_version: '',
    updated: '2011-01-21T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2/` }],
  };
  const v21 = {
    id: 'v2.1',
    status: 'CURRENT',
    version: `${MAX_VERSION}`,
    min_version: `${MIN_VERSION}`,
    updated: '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href: `${base}/v2.1/` }],
  };
  const detail = (v: typeof v20, mediaVersion: string) => ({
    version: {
      ...v,
      links: [...v.links, { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' }],
      'media-types': [{ base: 'application/json', type: `application/vnd.openstack.compute+json;version=${mediaVersion}` }],
    },
  });
  return { root: { versions: [v20, v21] }, v20: detail(v20, '2'), v21: detail(v21, '2.1') };
}

/** Version discovery needs no token. */
export function versionRoutes(app: FastifyInstance, base: string): void {
  const docs = versionDocuments(base);
  app.get('/', async () => docs.root);
  app.get('/v2', async (request, reply) => (negotiate(request, reply), docs.v20));
  app.get('/v2/', async (request, reply) => (negotiate(request, reply), docs.v20));
  app.get('/v2.1', async (request, reply) => (negotiate(request, reply), docs.v21));
  app.get('/v2.1/', async (request, reply) => (negotiate(request, reply), docs.v21));
}
