import type { DbOrTx } from '../db/connect.js';
import { type FieldError, ForbiddenError } from '../lib/errors.js';
import { toStoredQuota } from '../policy/quota.js';
import type { ClientResource, GrantInput } from '../schemas/clients.js';
import type { TokenQuotaInput } from '../schemas/policy.js';
import { lockServicesForGrant, NOTHING_OFFERED, type SelfServiceOffer, selfServiceOffer } from '../services/services.js';

/**
 * What an operator (a person with the operator role, on their own clients) may set on a
 * client, in one place. The admin API applies it to every create and PATCH under an owner's
 * scope (access/visibility.ts); configuration as code and the CLI are admin tools and do not.
 *
 * - Freely (with the checks every caller gets, and grants on self-service services only, see
 *   checkGrants): FREE_FIELDS below.
 * - The authentication method: a secret or the client's own keys; platform identities
 *   (federated) are an admin's, because an identity names a workload, not a secret, so an
 *   operator could name another team's workload and let it sign in as their own client.
 * - Roles and the token lifetime, within what the client's services offer operators
 *   (selfServiceOffer): a role added must be one every service the client is granted lists in
 *   its self_service_roles (and one removed, by every service it was granted: the roles an
 *   admin gave beyond those stay); a lifetime set must be at most the smallest
 *   self_service_max_access_token_ttl of those services, and only an admin clears one.
 * - Everything else that shapes tokens (custom claims, the quota, and any field added later
 *   and not listed here): admins only.
 *
 * A value equal to the client's own is no change and is accepted, whoever set it: a client
 * keeps what an admin gave it, and a form sent whole (the console's) repeats it.
 *
 * A service the change adds to the client's grants gets the client's roles and lifetime in
 * its tokens too, so they must be within what that service offers. Portier does not record
 * whether a role was an admin's or an operator's choice; treating them alike keeps an
 * operator from choosing a role under one service and carrying it to another that does not
 * offer it. An admin grants such a service, or lists the roles it may carry.
 */

/** The fields operators set as freely as admins. */
const FREE_FIELDS: ReadonlySet<string> = new Set([
  'client_id',
  'name',
  'description',
  'first_name',
  'last_name',
  'grants',
  'ip_ranges',
  'expires_at',
  'dpop_bound',
  'jwks',
  'jwks_uri',
  // It only narrows who may act for the client in a token exchange.
  'may_act',
]);

/** The parts of a client the rule compares a change with: the client as it is, or what a new one starts as. */
export type ClientShape = Pick<
  ClientResource,
  'owner' | 'roles' | 'grants' | 'auth_method' | 'federated_identities' | 'access_token_ttl' | 'claims' | 'token_quota'
>;

/** What a client an operator creates starts as: theirs, with nothing an admin would set. */
export function newClientShape(owner: string): ClientShape {
  return {
    owner,
    roles: [],
    grants: [],
    auth_method: 'client_secret',
    federated_identities: [],
    access_token_ttl: null,
    claims: {},
    token_quota: null,
  };
}

/** Offers by service id: those of the services the client is granted before the change and after it. */
export type Offers = ReadonlyMap<string, SelfServiceOffer>;

/**
 * Why an operator may not make `change` (a create body or a PATCH) to `client`: the first
 * field they may not set so, with the reason; undefined when they may. `offers`: what each
 * service the client is granted before or after the change offers operators (a service
 * missing from it offers nothing).
 */
export function operatorDenial(change: Readonly<Record<string, unknown>>, client: ClientShape, offers: Offers): FieldError | undefined {
  const grantsAfter = (change.grants as GrantInput[] | undefined) ?? client.grants;
  const servicesAfter = grantsAfter.map((grant) => grant.service);
  const offerOf = (service: string) => offers.get(service) ?? NOTHING_OFFERED;

  for (const [field, value] of Object.entries(change)) {
    if (value === undefined || FREE_FIELDS.has(field)) continue;
    const problem = fieldProblem(field, value, client, {
      before: client.grants.map((grant) => offerOf(grant.service)),
      after: servicesAfter.map(offerOf),
    });
    if (problem !== undefined) return { path: `/${field}`, message: problem };
  }

  // A service added carries the client's roles and lifetime into its tokens from now on.
  const rolesAfter = (change.roles as string[] | undefined) ?? client.roles;
  const ttlAfter = change.access_token_ttl === undefined ? client.access_token_ttl : (change.access_token_ttl as number | null);
  for (const [i, service] of servicesAfter.entries()) {
    if (client.grants.some((grant) => grant.service === service)) continue;
    const offer = offerOf(service);
    const roles = rolesAfter.filter((role) => !offer.roles.includes(role));
    if (roles.length > 0) {
      return {
        path: `/grants/${i}/service`,
        message: `service "${service}" does not offer operators the client's roles ${roles.join(', ')}: drop them, or ask an admin to grant it`,
      };
    }
    if (ttlAfter !== null && (offer.maxAccessTokenTtl === null || ttlAfter > offer.maxAccessTokenTtl)) {
      return {
        path: `/grants/${i}/service`,
        message: `service "${service}" does not offer operators the client's token lifetime of ${ttlAfter} s: ask an admin to grant it`,
      };
    }
  }
  return undefined;
}

/**
 * Why an operator may not set `field` to `value`, or undefined. `offered`: what the
 * services the client is granted before the change and after it offer.
 */
function fieldProblem(
  field: string,
  value: unknown,
  client: ClientShape,
  offered: { before: SelfServiceOffer[]; after: SelfServiceOffer[] },
): string | undefined {
  switch (field) {
    case 'owner':
      return value === client.owner
        ? undefined
        : `only an admin can make a client someone else's: leave owner out, or give "${client.owner}"`;
    case 'auth_method':
      return value !== 'federated' || value === client.auth_method
        ? undefined
        : "only an admin can set a client's platform identities (federated): use a secret or the client's own keys";
    case 'federated_identities':
      return sameJson(value, client.federated_identities) ? undefined : "only an admin can set a client's platform identities";
    case 'roles': {
      // Added: offered by every service the client will be granted. Removed: offered by
      // every service it was granted, so that the roles an admin gave beyond that stay.
      const roles = value as string[];
      const addable = rolesOffered(offered.after);
      const added = roles.filter((role) => !client.roles.includes(role) && !addable.includes(role));
      if (added.length > 0) {
        return addable.length === 0
          ? `roles are set by an admin: the client's services let operators choose none (not ${added.join(', ')})`
          : `operators may add only the roles every service of the client offers (${addable.join(', ')}), not ${added.join(', ')}`;
      }
      const removable = rolesOffered(offered.before);
      const removed = client.roles.filter((role) => !roles.includes(role) && !removable.includes(role));
      return removed.length === 0 ? undefined : `only an admin can remove the roles ${removed.join(', ')}`;
    }
    case 'access_token_ttl': {
      if (value === client.access_token_ttl) return undefined;
      const max = maxTtlOffered(offered.after);
      if (max === undefined) return "the token lifetime is set by an admin: the client's services let operators choose none";
      if (value === null) return `only an admin can clear the token lifetime; operators may choose up to ${max} s`;
      return (value as number) <= max ? undefined : `operators may choose a token lifetime of at most ${max} s`;
    }
    case 'claims':
      return sameJson(value, client.claims) ? undefined : 'custom claims are set by an admin';
    case 'token_quota':
      return sameJson(toStoredQuota(value as TokenQuotaInput | null), client.token_quota)
        ? undefined
        : "a client's token quota is set by an admin";
    default:
      // A field this rule does not know (one added later): an admin's, unless unchanged.
      return sameJson(value, (client as Record<string, unknown>)[field]) ? undefined : `only an admin can set ${field}`;
  }
}

/** The roles every one of `offered` lists (none when there is no service at all). */
function rolesOffered(offered: SelfServiceOffer[]): string[] {
  const [first, ...rest] = offered;
  if (first === undefined) return [];
  return first.roles.filter((role) => rest.every((offer) => offer.roles.includes(role)));
}

/** The longest lifetime all of `offered` allow, or undefined when one of them (or the lack of any) allows none. */
function maxTtlOffered(offered: SelfServiceOffer[]): number | undefined {
  if (offered.length === 0 || offered.some((offer) => offer.maxAccessTokenTtl === null)) return undefined;
  return Math.min(...offered.map((offer) => offer.maxAccessTokenTtl as number));
}

/** Equal as JSON values, whatever the order of object members. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * Refuses, with a 403 naming the field, an operator's change the rule does not allow. Call
 * it in the transaction that writes the change, after the grants were checked: it locks the
 * services the client is granted before and after the change (FOR SHARE, as checkGrants
 * does), so what they offered still holds when the change is written.
 */
export async function enforceOperatorLimits(tx: DbOrTx, change: Readonly<Record<string, unknown>>, client: ClientShape): Promise<void> {
  const granted = [...client.grants, ...((change.grants as GrantInput[] | undefined) ?? [])];
  const rows = await lockServicesForGrant(tx, [...new Set(granted.map((grant) => grant.service))]);
  const offers = new Map([...rows].map(([id, row]) => [id, selfServiceOffer(row)]));
  const denial = operatorDenial(change, client, offers);
  if (denial !== undefined) throw new ForbiddenError(`${denial.path.split('/')[1]}: ${denial.message}`, [denial]);
}
