import { errors as joseErrors, jwtVerify } from 'jose';
import type { Actor } from '../audit/events.js';
import { clientStatus } from '../clients/rules.js';
import { ADMIN_SCOPES, adminAudience } from '../clients/services.js';
import type { Portier } from '../server.js';

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
 * admin audience, whose client still exists (the same one: `sub` matches), is active and
 * still holds the admin grant. The database is consulted through the token endpoint's
 * client cache, which every change invalidates, so a disabled admin is refused at once.
 */
export async function authenticateAdmin(portier: Portier, authorization: string | undefined, method: string): Promise<Actor> {
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization ?? '');
  if (match === null || match[1] === undefined) {
    // RFC 6750 §3.1: no error code when no bearer token was attempted (none, or another scheme).
    const bearerAttempted = authorization !== undefined && /^bearer(?: |$)/i.test(authorization);
    throw unauthorized(authorization === undefined ? 'missing bearer token' : 'malformed Authorization header', bearerAttempted);
  }
  const { issuer } = portier.config;
  const audience = adminAudience(issuer);
  let payload;
  try {
    ({ payload } = await jwtVerify(match[1], (await portier.keys.get()).verificationKeys, {
      issuer,
      audience,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'client_id', 'jti', 'exp'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) throw unauthorized('the access token is invalid or expired');
    throw error;
  }
  const clientId = String(payload.client_id);
  const client = await portier.directory.find(clientId);
  if (client === undefined || client.uuid !== payload.sub) throw unauthorized('the client of this token no longer exists');
  if (clientStatus(client) !== 'active') throw unauthorized('the client of this token is disabled or expired');
  if (await portier.revocations.isRevoked(String(payload.jti))) throw unauthorized('the access token has been revoked');

  // What the token says, narrowed by what the client is granted now.
  const granted = new Set(client.grants.get(audience)?.scopes ?? []);
  const scopes = new Set(String(payload.scope ?? '').split(' ').filter((scope) => granted.has(scope)));
  const needed = requiredScope(method);
  const allowed = scopes.has('admin:write') || scopes.has(needed);
  if (!allowed) {
    throw new AdminAuthError(403, `Bearer ${REALM}, error="insufficient_scope", scope="${needed}"`, `this request needs the scope ${needed}`);
  }
  return { clientId, sub: String(payload.sub) };
}
