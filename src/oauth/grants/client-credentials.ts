import type { ClientRecord, GrantedService } from '../../clients/record.js';
import type { FederatedIdentityUse } from '../../federation/identities.js';
import { quoteParameter } from '../../lib/redact.js';
import { mayActClaim } from '../delegation.js';
import { InvalidScope, InvalidTarget } from '../errors.js';
import type { TokenDecision } from './decision.js';

/**
 * The client credentials grant (RFC 6749 §4.4): a token for the authenticated client
 * itself, for the granted services it names (RFC 8707) and the scopes it asks for. The
 * jwt-bearer grant ends here too, for the client its assertion names.
 */
export function clientCredentialsDecision(
  client: ClientRecord,
  identity: FederatedIdentityUse | undefined,
  audiences: string[],
  requestedScopes: string[] | undefined,
  defaultTtl: number,
): TokenDecision {
  const services = selectServices(client, audiences);
  const scopes = selectScopes(services, requestedScopes);
  const shape = client.shapes.for(services);
  return {
    subject: { client },
    services,
    scopes,
    ttl: shape.ttl ?? defaultTtl,
    custom: shape.claims,
    federatedIdentity: identity,
    mayAct: mayActClaim(client.mayAct),
  };
}

/**
 * Which granted services the token is for. Nothing asked and exactly one granted: that
 * one. Nothing asked and several granted: the caller must choose. Anything not granted
 * (or unknown) is invalid_target.
 */
export function selectServices(client: ClientRecord, audiences: string[]): GrantedService[] {
  if (audiences.length === 0) {
    const granted = [...client.grants.values()];
    if (granted.length === 1) return granted;
    if (granted.length === 0) throw new InvalidTarget('the client is not granted any service');
    throw new InvalidTarget('the client is granted several services: name one with resource or audience');
  }
  return audiences.map((audience) => {
    const service = client.grants.get(audience);
    if (service === undefined) throw new InvalidTarget(`the client is not granted the service ${quoteParameter(audience)}`);
    return service;
  });
}

/** The requested scopes must be granted for the chosen services; omitted means all of those. */
export function selectScopes(services: GrantedService[], requested: string[] | undefined): string[] {
  const granted = new Set(services.flatMap((service) => service.scopes));
  if (requested === undefined) return [...granted];
  const missing = requested.filter((scope) => !granted.has(scope));
  if (missing.length > 0) {
    throw new InvalidScope(`scope not granted: ${quoteParameter(missing.join(' '))}`);
  }
  return requested;
}
