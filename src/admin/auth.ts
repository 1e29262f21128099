import type { Actor } from '../audit/events.js';
import { type AccessTokenContext, checkAccessToken } from '../oauth/access-tokens.js';
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

/**
 * Authenticates an admin request: a Bearer access token issued by this Portier for the
 * admin audience and still in force (see checkAccessToken), whose client still holds the
 * admin grant. A disabled admin is refused at once.
 */
export async function authenticateAdmin(ctx: AccessTokenContext, authorization: string | undefined, method: string): Promise<Actor> {
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

  // What the token says, narrowed by what the client is granted now.
  const granted = new Set(client.grants.get(audience)?.scopes ?? []);
  const scopes = new Set(claims.scope.split(' ').filter((scope) => granted.has(scope)));
  const needed = requiredScope(method);
  const allowed = scopes.has('admin:write') || scopes.has(needed);
  if (!allowed) {
    throw new AdminAuthError(
      403,
      `Bearer ${REALM}, error="insufficient_scope", scope="${needed}"`,
      `this request needs the scope ${needed}`,
    );
  }
  return { clientId: client.clientId, sub: client.uuid };
}
