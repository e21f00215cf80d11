import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NimbusError } from '../../errors.js';
import { sendError } from '../http.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  501: 'Not Implemented',
};

/** Keystone's error body: {"error": {"code", "title", "message"}}. */
export function renderKeystoneError(err: NimbusError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const status = err.status;
  if (status === 401) reply.header('www-authenticate', 'Keystone uri="/identity"');
  return sendError(reply, status, { error: { code: status, title: TITLES[status] ?? 'Error', message: err.message } });
}
