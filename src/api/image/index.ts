import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../../services.js';

export function imageApi(_services: Services): FastifyPluginAsync {
  return async () => {};
}
