import type { NimbusError } from '../../errors.js';
import { NetworkingError } from '../../network/errors.js';
import type { Dialect, ErrorAnswer } from '../http.js';
import { unauthorizedAnswer } from '../compute/faults.js';

/** The webob exception Neutron raises for each status when no domain exception names it. */
const TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  406: 'HTTPNotAcceptable',
  409: 'HTTPConflict',
  413: 'HTTPRequestEntityTooLarge',
  414: 'HTTPRequestURITooLong',
  415: 'HTTPUnsupportedMediaType',
  431: 'HTTPRequestHeaderFieldsTooLarge',
  500: 'HTTPInternalServerError',
  501: 'HTTPNotImplemented',
  503: 'HTTPServiceUnavailable',
};

/** Neutron's error body: {"NeutronError": {"type", "message", "detail"}}; a bad token answers as keystonemiddleware does. */
export function neutronErrors(identityUrl: string): Dialect {
  return (err: NimbusError): ErrorAnswer => {
    const status = err.status;
    if (status === 401) return unauthorizedAnswer(identityUrl);
    const type = err instanceof NetworkingError ? err.neutronType : (TYPES[status] ?? 'HTTPInternalServerError');
    return { status, body: { NeutronError: { type, message: err.message, detail: '' } } };
  };
}
