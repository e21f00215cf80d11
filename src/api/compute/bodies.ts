import type { FastifyInstance } from 'fastify';
import { NimbusError } from '../../errors.js';
import { parseJsonBody } from '../edge.js';

/** The media types Nova reads (nova.api.openstack.wsgi._SUPPORTED_CONTENT_TYPES). */
const SUPPORTED = ['application/json', 'application/vnd.openstack.compute+json'];

/**
 * Request bodies as Nova takes them: JSON whatever the content type says, when it says
 * nothing or text/plain (what eventlet assumes); 415 for any other type, on every method,
 * once the microversion is known.
 */
export function jsonBodies(api: FastifyInstance): void {
  api.removeContentTypeParser('text/plain');
  api.addContentTypeParser('text/plain', { parseAs: 'string' }, parseJsonBody);
  api.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);
  api.addHook('onRequest', async (request) => {
    const header = request.headers['content-type'];
    if (header === undefined) return;
    const type = header.split(';')[0].trim().toLowerCase();
    if (type !== '' && type !== 'text/plain' && !SUPPORTED.includes(type)) {
      throw new NimbusError('unsupported_media', 'Unsupported Content-Type');
    }
  });
}
