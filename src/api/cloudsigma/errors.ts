import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorKind, NimbusError } from '../../errors.js';
import { sendError, type Dialect } from '../http.js';
import { challenges } from './auth.js';

/**
 * The core's error catalogue in CloudSigma's words, mapped once here: every error of this
 * face is a list of {error_point, error_type, error_message} with the core's status.
 * A wrong state or a lost race (`conflict`) is CloudSigma's `concurrency`: the operation
 * clashed with the resource's state or with another one, as its errors page says.
 */
const ERROR_TYPE: Record<ErrorKind, string> = {
  invalid: 'validation',
  unauthorized: 'permission',
  forbidden: 'permission',
  not_found: 'notexist',
  gone: 'notexist',
  method_not_allowed: 'validation',
  not_acceptable: 'validation',
  conflict: 'concurrency',
  over_quota: 'permission',
  too_large: 'validation',
  uri_too_long: 'validation',
  headers_too_large: 'validation',
  unsupported_media: 'validation',
  not_implemented: 'backend',
  unavailable: 'backend',
  internal: 'backend',
};

export function errorList(err: NimbusError): { error_point: string | null; error_type: string; error_message: string }[] {
  return [{ error_point: err.point ?? null, error_type: ERROR_TYPE[err.kind], error_message: err.message }];
}

/** CloudSigma's words for an error, also for what is refused before routing. */
export const cloudsigmaErrors: Dialect = (err) => ({ status: err.status, body: errorList(err) });

/** An error of this face; a 401 also offers the Digest and Basic challenges. */
export function renderError(err: NimbusError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.kind === 'unauthorized') reply.header('www-authenticate', challenges(request));
  return sendError(reply, cloudsigmaErrors(err));
}
