import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NimbusError } from '../../errors.js';
import { sendError } from '../http.js';

/** Nova's fault names by status (nova.api.openstack.wsgi.Fault). */
const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function faultRenderer(identityUrl: string) {
  return (err: NimbusError, _request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const status = err.status;
    if (status === 401) return renderUnauthorized(reply, identityUrl);
    return sendError(reply, status, { [FAULT_NAMES[status] ?? 'computeFault']: { code: status, message: err.message } });
  };
}

/** A missing or bad token is answered as keystonemiddleware does, in Keystone's format. */
export function renderUnauthorized(reply: FastifyReply, identityUrl: string): FastifyReply {
  return reply
    .code(401)
    .header('content-type', 'application/json')
    .header('www-authenticate', `Keystone uri="${identityUrl}"`)
    .send(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
}
