import type { NimbusError } from '../../errors.js';
import type { ErrorAnswer } from '../http.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Keystone's error body: {"error": {"code", "title", "message"}}. */
export function keystoneErrors(err: NimbusError): ErrorAnswer {
  const status = err.status;
  return {
    status,
    headers: status === 401 ? { 'www-authenticate': 'Keystone uri="/identity"' } : undefined,
    body: { error: { code: status, title: TITLES[status] ?? 'Error', message: err.message } },
  };
}
