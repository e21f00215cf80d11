import type { FastifyReply, FastifyRequest } from 'fastify';
import { NimbusError } from '../../errors.js';

/** A compute API microversion, comparable as a single number (2.55 → 2055). */
export class Microversion {
  constructor(
    readonly major: number,
    readonly minor: number,
  ) {}

  static parse(text: string): Microversion | null {
    const m = /^(\d+)\.(\d+)$/.exec(text.trim());
    return m ? new Microversion(Number(m[1]), Number(m[2])) : null;
  }

  get rank(): number {
    return this.major * 1000 + this.minor;
  }

  /** True when this version is at least `version` ("2.47"). */
  atLeast(version: string): boolean {
    return this.rank >= Microversion.parse(version)!.rank;
  }

  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

export const MIN_VERSION = new Microversion(2, 1);
/** The newest microversion whose behaviour Nimbus implements in full. */
export const MAX_VERSION = new Microversion(2, 103);

declare module 'fastify' {
  interface FastifyRequest {
    microversion: Microversion;
  }
}

function requested(request: FastifyRequest): string | null {
  const modern = request.headers['openstack-api-version'];
  if (typeof modern === 'string') {
    // "compute 2.55", possibly among other services: "volume 3.0, compute 2.55"
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version) return version;
    }
  }
  const legacy = request.headers['x-openstack-nova-api-version'];
  return typeof legacy === 'string' && legacy.trim() ? legacy.trim() : null;
}

/**
 * Negotiates the microversion for a request: no header means 2.1, `latest` the maximum.
 * Echoes the version in both headers, as Nova does, so clients can check what they got.
 */
export function negotiate(request: FastifyRequest, reply: FastifyReply): void {
  const asked = requested(request);
  let version = MIN_VERSION;
  if (asked !== null) {
    if (asked.toLowerCase() === 'latest') version = MAX_VERSION;
    else {
      const parsed = Microversion.parse(asked);
      if (!parsed) {
        request.microversion = MIN_VERSION;
        throw new NimbusError('invalid', `API Version String ${asked} is of invalid format. Must be of format MajorNum.MinorNum.`);
      }
      version = parsed;
    }
  }
  request.microversion = version;
  reply.header('openstack-api-version', `compute ${version}`);
  reply.header('x-openstack-nova-api-version', `${version}`);
  reply.header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
  if (version.rank < MIN_VERSION.rank || version.rank > MAX_VERSION.rank) {
    throw new NimbusError('not_acceptable', `Version ${version} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
}
