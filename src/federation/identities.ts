import type { DbOrTx } from '../db/connect.js';
import type { FieldError } from '../lib/errors.js';
import type { FederatedIdentityInput } from '../schemas/clients.js';
import type { AuthMethod } from '../schemas/enums.js';
import { lockTrustedIssuers } from './store.js';

/**
 * A federated client's platform identities, and the one rule of what matches them: a
 * token of the identity's trusted issuer, with its exact `sub`, carrying each of the
 * identity's claims (equal to the token's claim, or one of its items when that is an array).
 */

export type ClaimValue = string | number | boolean;

/** One platform identity of a client, as the token endpoint uses it. */
export interface FederatedIdentity {
  /** The trusted issuer's id. */
  issuerId: string;
  subject: string;
  /** By claim name, or by JSON Pointer (RFC 6901) into the claims when the name starts with `/`. */
  claims: Record<string, ClaimValue>;
}

/** Which identity got a token: the trusted issuer's id and the subject, as the last-used record and introspection show it. */
export interface FederatedIdentityUse {
  issuer: string;
  subject: string;
}

/** Whether the verified claims of a platform's token match `identity` (its issuer is the caller's to check). */
export function identityMatches(identity: FederatedIdentity, claims: Record<string, unknown>): boolean {
  if (claims.sub !== identity.subject) return false;
  for (const [name, expected] of Object.entries(identity.claims)) {
    const actual = readClaim(claims, name);
    if (actual === expected) continue;
    if (Array.isArray(actual) && actual.some((item) => item === expected)) continue;
    return false;
  }
  return true;
}

/**
 * The claim `name` of `claims`: a top-level claim, or, for a name starting with `/`, what
 * that JSON Pointer (RFC 6901) leads to (`/kubernetes.io/serviceaccount/uid`). Own
 * members only: a pointer cannot reach into an object's prototype.
 */
export function readClaim(claims: Record<string, unknown>, name: string): unknown {
  if (!name.startsWith('/')) return Object.hasOwn(claims, name) ? claims[name] : undefined;
  let current: unknown = claims;
  for (const segment of name.slice(1).split('/')) {
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** What is wrong with a claim name, or undefined: a pointer's `~` must start an escape (`~0`, `~1`). */
function claimNameProblem(name: string): string | undefined {
  if (name.startsWith('/') && /~(?![01])/.test(name)) return 'is a JSON Pointer with a "~" that is not "~0" or "~1"';
  return undefined;
}

/** A claim name as a segment of a field path (RFC 6901 escaping). */
function pathSegment(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The identities a client of `authMethod` is to have, checked: only a federated client has
 * them, and it has 1 to 10; each names a trusted issuer that exists (locked FOR SHARE until
 * the transaction `tx` ends, so a concurrent delete of the issuer waits and then sees this
 * client); no two have the same issuer and subject. Records a field error for each problem.
 */
export async function checkFederatedIdentities(
  tx: DbOrTx,
  authMethod: AuthMethod,
  identities: FederatedIdentityInput[] | undefined,
  errors: FieldError[],
): Promise<FederatedIdentity[]> {
  if (authMethod !== 'federated') {
    if (identities !== undefined)
      errors.push({ path: '/federated_identities', message: 'only federated clients have federated_identities' });
    return [];
  }
  if (identities === undefined || identities.length === 0) {
    errors.push({ path: '/federated_identities', message: 'a federated client needs 1 to 10 federated_identities' });
    return [];
  }
  const known = await lockTrustedIssuers(tx, [...new Set(identities.map((identity) => identity.issuer))]);
  const seen = new Set<string>();
  identities.forEach((identity, i) => {
    if (!known.has(identity.issuer)) {
      errors.push({ path: `/federated_identities/${i}/issuer`, message: `unknown trusted issuer "${identity.issuer}"` });
    }
    const key = `${identity.issuer}\u0000${identity.subject}`;
    if (seen.has(key)) errors.push({ path: `/federated_identities/${i}/subject`, message: 'this issuer and subject are listed twice' });
    seen.add(key);
    for (const name of Object.keys(identity.claims ?? {})) {
      const problem = claimNameProblem(name);
      if (problem !== undefined) errors.push({ path: `/federated_identities/${i}/claims/${pathSegment(name)}`, message: problem });
    }
  });
  return identities.map((identity) => ({ issuerId: identity.issuer, subject: identity.subject, claims: identity.claims ?? {} }));
}

/** The longest subject an identity may name (the admin API's limit). */
export const MAX_SUBJECT_LENGTH = 512;

/**
 * Whether `subject` can be the subject of an identity: a non-empty string of at most
 * MAX_SUBJECT_LENGTH characters without control characters (a NUL never reaches the database).
 */
export function isIdentitySubject(subject: unknown): subject is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  return typeof subject === 'string' && subject !== '' && subject.length <= MAX_SUBJECT_LENGTH && !/[\x00-\x1f\x7f]/.test(subject);
}
