import { assignClaims, type Claims } from './claims.js';

/**
 * What a token's lifetime and custom claims are, for each set of services a client may ask
 * for: worked out once per client record (clients/record.ts, cached until the next change),
 * so that the token endpoint only looks the answer up.
 */

/** The policy fields of a service, as a client's grant carries them. */
export interface ServicePolicy {
  audience: string;
  /** Seconds, or null: no opinion. */
  accessTokenTtl: number | null;
  claims: Claims;
}

/** The policy fields of a client. */
export interface ClientPolicy {
  accessTokenTtl: number | null;
  claims: Claims;
}

/** A token's lifetime and custom claims. */
export interface TokenShape {
  /** Seconds; undefined: ACCESS_TOKEN_TTL. */
  ttl: number | undefined;
  /** The custom claims, merged; undefined: none. */
  claims: Claims | undefined;
}

/** A token with neither a lifetime of its own nor custom claims: what every token is without a policy. */
export const PLAIN_SHAPE: TokenShape = Object.freeze({ ttl: undefined, claims: undefined });

/**
 * The effective lifetime: the client's; else the smallest among the token's services;
 * else undefined (ACCESS_TOKEN_TTL). The smallest, because a token for several APIs must
 * not outlive what any of them allows.
 */
export function effectiveTtl(client: ClientPolicy, services: readonly ServicePolicy[]): number | undefined {
  if (client.accessTokenTtl !== null) return client.accessTokenTtl;
  let smallest: number | undefined;
  for (const service of services) {
    if (service.accessTokenTtl !== null && (smallest === undefined || service.accessTokenTtl < smallest)) smallest = service.accessTokenTtl;
  }
  return smallest;
}

/**
 * The custom claims: the services' (on the same name, the service named first in the
 * request wins), then the client's over them. Undefined when there are none.
 */
export function mergedClaims(client: ClientPolicy, services: readonly ServicePolicy[]): Claims | undefined {
  const merged: Claims = {};
  for (let i = services.length - 1; i >= 0; i -= 1) assignClaims(merged, services[i]?.claims ?? {});
  assignClaims(merged, client.claims);
  return Object.keys(merged).length === 0 ? undefined : Object.freeze(merged);
}

/** At most this many multi-service shapes are remembered per client (single services are all kept). */
const MAX_REMEMBERED_SETS = 16;

/**
 * The shapes of one client's tokens. A token for one service (the usual case) is looked up
 * in a map made when the record loads; one for several services is worked out on first use
 * and remembered. A client with no policy anywhere answers PLAIN_SHAPE without a lookup.
 */
export class TokenShapes {
  private readonly single = new Map<string, TokenShape>();
  private readonly sets = new Map<string, TokenShape>();
  private readonly plain: boolean;

  constructor(
    private readonly client: ClientPolicy,
    services: readonly ServicePolicy[],
  ) {
    this.plain =
      client.accessTokenTtl === null &&
      Object.keys(client.claims).length === 0 &&
      services.every((service) => service.accessTokenTtl === null && Object.keys(service.claims).length === 0);
    if (this.plain) return;
    for (const service of services) this.single.set(service.audience, shapeOf(client, [service]));
  }

  /** The shape of a token for `services` (as the request chose them, in its order). */
  for(services: readonly ServicePolicy[]): TokenShape {
    if (this.plain) return PLAIN_SHAPE;
    if (services.length === 1) return this.single.get(services[0]?.audience ?? '') ?? shapeOf(this.client, services);
    const key = services.map((service) => service.audience).join(' ');
    let shape = this.sets.get(key);
    if (shape === undefined) {
      shape = shapeOf(this.client, services);
      if (this.sets.size >= MAX_REMEMBERED_SETS) this.sets.clear();
      this.sets.set(key, shape);
    }
    return shape;
  }
}

function shapeOf(client: ClientPolicy, services: readonly ServicePolicy[]): TokenShape {
  const ttl = effectiveTtl(client, services);
  const claims = mergedClaims(client, services);
  return ttl === undefined && claims === undefined ? PLAIN_SHAPE : { ttl, claims };
}
