import type { FieldError } from '../lib/errors.js';

/** The claims of a token that an admin sets on a client or a service, or a hook adds. */
export type Claims = Record<string, unknown>;

/**
 * Claim names Portier sets itself, or that mean something to verifiers (RFC 7519, RFC 9068,
 * RFC 8693, RFC 9449, OpenID Connect): never taken from a client, a service or a hook.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'scope',
  'cnf',
  'act',
  'may_act',
  'azp',
  'auth_time',
  'acr',
  'amr',
  'preferred_username',
  'name',
  'roles',
  // Not in RFC 9068, but Portier's own: which platform identity a federated client's token
  // went to (introspection shows it), so nobody else may set it.
  'federated_identity',
]);

/** The largest set of claims a client or a service may have, serialised as JSON (UTF-8 bytes). */
export const MAX_CLAIMS_BYTES = 2048;

/**
 * How deep a claim's value may nest (an object or array inside another counts one level).
 * Far beyond what any verifier expects; it keeps every later step (JSON.stringify when the
 * token is signed, jsonb) from running out of stack on a value nested thousands deep.
 */
export const MAX_CLAIM_DEPTH = 32;

/**
 * What PostgreSQL's jsonb cannot hold in a string (a NUL) and what has no UTF-8 form (a
 * lone surrogate): refused in names and values, so a claim can never be a 500.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why `claims` cannot go into a token as they are, or undefined when they can: a value
 * nested deeper than MAX_CLAIM_DEPTH, a NUL or a lone surrogate in a name or a string, or
 * a value JSON has no form for (a number that is not finite, undefined, a function). The
 * one check for every claim a token carries: those an admin sets on a client or a service
 * (checkClaims) and those an issuance hook adds. The walk stops at the depth limit, so it
 * cannot overflow the stack itself.
 */
export function claimsProblem(claims: Claims): string | undefined {
  const walk = (value: unknown, depth: number): string | undefined => {
    if (typeof value === 'string') return UNSTORABLE.test(value) ? UNSTORABLE_MESSAGE : undefined;
    if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'must hold only finite numbers';
    if (typeof value === 'boolean' || value === null) return undefined;
    if (typeof value !== 'object') return `must hold only JSON values, not ${typeof value}`;
    if (depth > MAX_CLAIM_DEPTH) return `must not nest deeper than ${MAX_CLAIM_DEPTH} levels`;
    for (const [name, inner] of Object.entries(value)) {
      if (!Array.isArray(value) && UNSTORABLE.test(name)) return UNSTORABLE_MESSAGE;
      const problem = walk(inner, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
  return walk(claims, 0);
}

const UNSTORABLE_MESSAGE = 'must not contain NUL characters or lone UTF-16 surrogates';

/**
 * The rules for the `claims` of a client or a service, beyond the schema's "a JSON object":
 * no reserved name, no empty name, nothing claimsProblem finds, at most MAX_CLAIMS_BYTES
 * serialised. Each problem is a field error at `/claims`.
 */
export function checkClaims(claims: Claims, errors: FieldError[]): void {
  const reserved = Object.keys(claims).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) {
    errors.push({
      path: '/claims',
      message: `${reserved.map((name) => `"${name}"`).join(', ')} ${reserved.length === 1 ? 'is' : 'are'} reserved: Portier sets ${reserved.length === 1 ? 'it' : 'them'} itself`,
    });
  }
  if (Object.keys(claims).some((name) => name === '')) errors.push({ path: '/claims', message: 'a claim name must not be empty' });
  // First: what it finds (a value nested thousands deep) would overflow JSON.stringify below.
  const problem = claimsProblem(claims);
  if (problem !== undefined) {
    errors.push({ path: '/claims', message: problem });
    return;
  }
  const bytes = Buffer.byteLength(JSON.stringify(claims));
  if (bytes > MAX_CLAIMS_BYTES) errors.push({ path: '/claims', message: `must be at most ${MAX_CLAIMS_BYTES} bytes as JSON, is ${bytes}` });
}

/**
 * `claims` without the reserved names (and the names they dropped). For what is stored
 * (checked on the way in, but a row written by hand is not) and for a hook's answer.
 */
export function withoutReserved(claims: Claims): { kept: Claims; dropped: string[] } {
  const kept: Claims = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(claims)) {
    if (RESERVED_CLAIMS.has(name) || name === '') dropped.push(name);
    // Each as an own property: a claim named `__proto__` must not set kept's prototype.
    else Object.defineProperty(kept, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return { kept, dropped };
}

/** Is `value` a JSON object (not an array, not null)? */
export function isClaims(value: unknown): value is Claims {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Copies claims onto `target`, each as an own property. Not Object.assign: a claim named
 * `__proto__` (JSON.parse makes it an ordinary member) would set the target's prototype
 * instead of becoming a claim.
 */
export function assignClaims(target: Claims, source: Claims): Claims {
  for (const name of Object.keys(source)) {
    if (name === '__proto__')
      Object.defineProperty(target, name, { value: source[name], enumerable: true, writable: true, configurable: true });
    else target[name] = source[name];
  }
  return target;
}
