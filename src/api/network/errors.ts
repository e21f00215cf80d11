import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NimbusError } from '../../errors.js';
import { NetworkingError } from '../../network/errors.js';
import { sendError } from '../http.js';

/** The webob exception Neutron raises for each status when no domain exception names it. */
const TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  406: 'HTTPNotAcceptable',
  409: 'HTTPConflict',
  413: 'HTTPRequestEntityTooLarge',
  415: 'HTTPUnsupportedMediaType',
  500: 'HTTPInternalServerError',
  501: 'HTTPNotImplemented',
};

/** Neutron's error body: {"NeutronError": {"type", "message", "detail"}}; a bad token answers as keystonemiddleware does. */
export function neutronErrorRenderer(identityUrl: string) {
  return (err: NimbusError, _request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const status = err.status;
    if (status === 401) {
      return reply
        .code(401)
        .header('content-type', 'application/json')
        .header('www-authenticate', `Keystone uri="${identityUrl}"`)
        .send(JSON.stringify({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } }));
    }
    const type = err instanceof NetworkingError ? err.neutronType : (TYPES[status] ?? 'HTTPInternalServerError');
    return sendError(reply, status, { NeutronError: { type, message: err.message, detail: '' } });
  };
}
