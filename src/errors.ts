/**
 * The one error catalogue of the core. Each API dialect maps these kinds to its own
 * wire format once (Nova faults, Keystone errors, Glance errors, CloudSigma lists).
 */
export type ErrorKind =
  | 'invalid' // 400: the request is wrong; the message names the field
  | 'unauthorized' // 401
  | 'forbidden' // 403: policy denies it
  | 'not_found' // 404
  | 'method_not_allowed' // 405
  | 'not_acceptable' // 406: unsupported microversion
  | 'conflict' // 409: the resource is busy or in the wrong state, or a duplicate
  | 'gone' // 410: an API that is no more (nova-network's)
  | 'over_quota' // 403 in Nova, with the quota message
  | 'too_large' // 413: request body or upload over the limit
  | 'uri_too_long' // 414: a path segment longer than any id or name
  | 'unsupported_media' // 415
  | 'headers_too_large' // 431: refused by the HTTP parser, before routing
  | 'not_implemented' // 501
  | 'unavailable' // 503: the database cannot be reached; try again shortly
  | 'internal'; // 500: a bug, never bad input

export const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  conflict: 409,
  gone: 410,
  over_quota: 403,
  too_large: 413,
  uri_too_long: 414,
  unsupported_media: 415,
  headers_too_large: 431,
  not_implemented: 501,
  unavailable: 503,
  internal: 500,
};

export class NimbusError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** The request field at fault, for dialects that name it apart from the message (CloudSigma's error_point). */
    readonly point?: string,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

export const invalid = (message: string, point?: string) => new NimbusError('invalid', message, point);
export const notFound = (message: string) => new NimbusError('not_found', message);
export const conflict = (message: string) => new NimbusError('conflict', message);
export const forbidden = (message: string) => new NimbusError('forbidden', message);
export const unauthorized = (message = 'The request you have made requires authentication.') =>
  new NimbusError('unauthorized', message);
