import type { NimbusError } from '../../errors.js';
import type { Dialect, ErrorAnswer } from '../http.js';

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

/** Nova's faults: {"itemNotFound": {"code": 404, "message": …}}; a bad token answers as keystonemiddleware does. */
export function novaFaults(identityUrl: string): Dialect {
  return (err: NimbusError): ErrorAnswer => {
    const status = err.status;
    if (status === 401) return unauthorizedAnswer(identityUrl);
    return { status, body: { [FAULT_NAMES[status] ?? 'computeFault']: { code: status, message: err.message } } };
  };
}

/** A missing or bad token is answered as keystonemiddleware does, in Keystone's format. */
export function unauthorizedAnswer(identityUrl: string): ErrorAnswer {
  return {
    status: 401,
    headers: { 'content-type': 'application/json', 'www-authenticate': `Keystone uri="${identityUrl}"` },
    body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } },
  };
}
