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
 * What PostgreSQL's jsonb cannot hold in a string (a NUL) and what has no UTF-8 form (a
 * lone surrogate): refused in names and values, so a claim can never be a 500.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether any string in `value` (names of objects included) holds what jsonb refuses. */
function holdsUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.some(holdsUnstorable);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([name, inner]) => UNSTORABLE.test(name) || holdsUnstorable(inner));
  }
  return false;
}

/**
 * The rules for the `claims` of a client or a service, beyond the schema's "a JSON object":
 * no reserved name, no empty name, at most MAX_CLAIMS_BYTES serialised, nothing jsonb
 * cannot store. Each problem is a field error at `/claims`.
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
  const bytes = Buffer.byteLength(JSON.stringify(claims));
  if (bytes > MAX_CLAIMS_BYTES) errors.push({ path: '/claims', message: `must be at most ${MAX_CLAIMS_BYTES} bytes as JSON, is ${bytes}` });
  if (holdsUnstorable(claims)) errors.push({ path: '/claims', message: 'must not contain NUL characters or lone UTF-16 surrogates' });
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
