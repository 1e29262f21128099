import { ForbiddenError } from '../lib/errors.js';
import { type AccessTokenContext, checkAccessToken } from '../oauth/access-tokens.js';
import { cookieValues } from '../people/cookies.js';
import type { People } from '../people/people.js';
import type { AdminClientPrincipal, PersonPrincipal, Principal } from '../people/principal.js';
import { type AdminArea, accessDenial } from '../people/scope.js';
import { type ADMIN_SCOPES, adminAudience } from '../services/services.js';

export type AdminScope = (typeof ADMIN_SCOPES)[number];

/** A 401 or 403 of the admin API, with the RFC 6750 WWW-Authenticate challenge it needs. */
export class AdminAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly challenge: string,
    message: string,
  ) {
    super(message);
  }
}

const REALM = 'realm="portier-admin"';

function unauthorized(detail: string, tokenPresented = true): AdminAuthError {
  const challenge = tokenPresented ? `Bearer ${REALM}, error="invalid_token", error_description="${detail}"` : `Bearer ${REALM}`;
  return new AdminAuthError(401, challenge, detail);
}

/** The scope a request needs: reading needs admin:read (admin:write includes it), anything else admin:write. */
export function requiredScope(method: string): AdminScope {
  return method === 'GET' || method === 'HEAD' ? 'admin:read' : 'admin:write';
}

function insufficientScope(needed: AdminScope): AdminAuthError {
  return new AdminAuthError(
    403,
    `Bearer ${REALM}, error="insufficient_scope", scope="${needed}"`,
    `this request needs the scope ${needed}`,
  );
}

/**
 * Authenticates an admin request: a person's console session when the request carries
 * no Authorization header but a session cookie (and SSO is configured), otherwise a Bearer
 * token as it always was. Then the rules of people/scope.ts: a role that may not make the
 * request at all is a 403 (for a token, the RFC 6750 insufficient_scope challenge), and a
 * change made with a session must come from Portier's own origin (CSRF).
 */
export async function authenticateAdmin(
  ctx: AccessTokenContext,
  people: People | undefined,
  request: { headers: { authorization?: string | undefined; cookie?: string | undefined; origin?: string | undefined }; method: string },
  area: AdminArea | undefined,
  now: number,
): Promise<Principal> {
  const { authorization, cookie } = request.headers;
  if (authorization === undefined && people !== undefined && cookie !== undefined) {
    const sessionCookies = cookieValues(cookie, people.cookies.session);
    if (sessionCookies.length > 0) {
      const person = await authenticatePerson(people, sessionCookies, now);
      if (!isReading(request.method) && request.headers.origin !== people.origin) {
        throw new ForbiddenError(
          `a change made with a console session must come from ${people.origin} (its Origin header); nothing was changed`,
        );
      }
      const denial = accessDenial(person, area, request.method);
      if (denial !== undefined) throw new ForbiddenError(denial);
      return person;
    }
  }
  const client = await authenticateBearer(ctx, authorization, request.method);
  if (accessDenial(client, area, request.method) !== undefined) throw insufficientScope(requiredScope(request.method));
  return client;
}

function isReading(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * The person behind a session cookie. A cookie this Portier did not make (altered, made
 * up) is refused without a database query; one whose session ended is refused too. Both
 * are 401: sign in again.
 */
async function authenticatePerson(people: People, cookies: string[], now: number): Promise<PersonPrincipal> {
  let reason: 'altered' | 'ended' = 'altered';
  for (const value of cookies) {
    const lookup = await people.sessions.find(value, now);
    if (lookup.found) {
      const { id, subject, name, owner, role } = lookup.session;
      return { kind: 'person', sessionId: id, subject, name, owner, role };
    }
    if (lookup.reason === 'ended') reason = 'ended';
  }
  throw new AdminAuthError(
    401,
    `Bearer ${REALM}`,
    reason === 'altered'
      ? 'the console session cookie is not valid'
      : 'the console session has ended (signed out, expired or ended by an admin): sign in again',
  );
}

/**
 * A Bearer access token issued by this Portier for the admin audience and still in force
 * (see checkAccessToken), whose client still holds the admin grant. A disabled admin is
 * refused at once.
 */
async function authenticateBearer(
  ctx: AccessTokenContext,
  authorization: string | undefined,
  method: string,
): Promise<AdminClientPrincipal> {
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization ?? '');
  if (match === null || match[1] === undefined) {
    // RFC 6750 §3.1: no error code when no bearer token was attempted (none, or another scheme).
    const bearerAttempted = authorization !== undefined && /^bearer(?: |$)/i.test(authorization);
    throw unauthorized(authorization === undefined ? 'missing bearer token' : 'malformed Authorization header', bearerAttempted);
  }
  const audience = adminAudience(ctx.issuer);
  const check = await checkAccessToken(ctx, match[1], audience);
  if (!check.active) throw unauthorized(check.reason);
  const { claims, client } = check;
  // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token is refused. The admin
  // API does not take DPoP proofs, so a DPoP-bound token cannot be used here at all.
  if (claims.jkt !== undefined) throw unauthorized('a DPoP-bound access token cannot be used as a bearer token');
  // RFC 8705 §3: a token bound to a TLS client certificate is good only with that
  // certificate; the admin API does not check one, so it takes none of them.
  if (claims.x5t !== undefined) throw unauthorized('a certificate-bound access token cannot be used with the admin API');

  // What the token says, narrowed by what the client is granted now.
  const granted = new Set(client.grants.get(audience)?.scopes ?? []);
  const scopes = new Set(claims.scope.split(' ').filter((scope) => granted.has(scope)));
  const canWrite = scopes.has('admin:write');
  if (!canWrite && !scopes.has('admin:read')) throw insufficientScope(requiredScope(method));
  return { kind: 'client', clientId: client.clientId, sub: client.uuid, canWrite };
}
