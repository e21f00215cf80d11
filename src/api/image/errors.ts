import type { NimbusError } from '../../errors.js';
import type { Dialect, ErrorAnswer } from '../http.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/**
 * Glance's errors come from webob as HTML, text or a flat JSON object, chosen by Accept.
 * We answer JSON nested one level, {"error": {"code", "title", "message"}}: it is the shape
 * python-glanceclient and openstacksdk both read the message out of (they look for
 * `message` inside each top-level value), Tempest accepts its Content-Type, and it is what
 * keystonemiddleware sends for a 401 in front of a real Glance.
 */
export function glanceErrors(identityUrl: string): Dialect {
  return (err: NimbusError): ErrorAnswer => {
    const status = err.status;
    return {
      status,
      headers: status === 401 ? { 'www-authenticate': `Keystone uri="${identityUrl}"` } : undefined,
      body: { error: { code: status, title: TITLES[status] ?? 'Error', message: err.message } },
    };
  };
}
