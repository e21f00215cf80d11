import type { FastifyReply, FastifyRequest } from 'fastify';
import { NimbusError } from '../../errors.js';

/** The rank of each version string code compares against ("2.47" → 2047). */
const RANKS = new Map<string, number>();

/** A compute API microversion, comparable as a single number (2.55 → 2055). */
export class Microversion {
  constructor(
    readonly major: number,
    readonly minor: number,
  ) {}

  /** Nova's format: no leading zeros ("2.01" is not a version). */
  static parse(text: string): Microversion | null {
    const m = /^([1-9]\d*)\.([1-9]\d*|0)$/.exec(text);
    return m ? new Microversion(Number(m[1]), Number(m[2])) : null;
  }

  get rank(): number {
    return this.major * 1000 + this.minor;
  }

  /** True when this version is at least `version` ("2.47"). */
  atLeast(version: string): boolean {
    // Views ask this a dozen times per server; the versions asked about are a fixed set.
    let rank = RANKS.get(version);
    if (rank === undefined) RANKS.set(version, (rank = Microversion.parse(version)!.rank));
    return this.rank >= rank;
  }

  toString(): string {
    return `${this.major}.${this.minor}`;
  }
}

export const MIN_VERSION = new Microversion(2, 1);
/**
 * The newest microversion whose behaviour Nimbus implements in full. 2.97 adds Manila
 * shares, which Nimbus does not offer, so the API stops at 2.96.
 */
export const MAX_VERSION = new Microversion(2, 96);

declare module 'fastify' {
  interface FastifyRequest {
    microversion: Microversion;
  }
}

/** As microversion_parse reads the headers: the last compute entry wins, then the legacy header. */
function requested(request: FastifyRequest): string | null {
  const modern = request.headers['openstack-api-version'];
  if (typeof modern === 'string') {
    // "compute 2.55", possibly among other services: "volume 3.0, compute 2.55"
    for (const part of modern.split(',').reverse()) {
      const m = /^(\S+)\s+(.+)$/.exec(part.trim());
      if (m && m[1].toLowerCase() === 'compute') return m[2].trim();
    }
  }
  const legacy = request.headers['x-openstack-nova-api-version'];
  return typeof legacy === 'string' ? (legacy.split(',').at(-1)!.trim() || null) : null;
}

/**
 * Negotiates the microversion for a request: no header means 2.1, `latest` the maximum.
 * Echoes the version in both headers, as Nova does, so clients can check what they got.
 */
export function negotiate(request: FastifyRequest, reply: FastifyReply): void {
  const asked = requested(request);
  let version = MIN_VERSION;
  if (asked !== null) {
    if (asked === 'latest') version = MAX_VERSION;
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

/**
 * Memoizes a schema built for a microversion: the validator compiles each schema object
 * once, so the same version must get the same object back.
 */
export function perVersion<T>(build: (v: Microversion) => T): (v: Microversion) => T {
  const cache = new Map<number, T>();
  return (v) => {
    let value = cache.get(v.rank);
    if (value === undefined) {
      value = build(v);
      cache.set(v.rank, value);
    }
    return value;
  };
}
