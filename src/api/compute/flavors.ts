import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';

export function flavorRoutes(_app: FastifyInstance, _services: Services, _base: string): void {}
