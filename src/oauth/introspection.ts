import { RESERVED_CLAIMS } from '../policy/claims.js';
import { checkAccessToken } from './access-tokens.js';
import { authenticateCaller } from './caller.js';
import { boundKeyThumbprint } from './dpop.js';
import type { TokenEndpointContext, TokenRequest } from './token.js';

/**
 * RFC 7662. Any authenticated client may introspect; an unusable token is just `active: false`.
 * The custom claims of the token (its client's, its services', the issuance hook's) come
 * with the standard members, which they can never replace.
 */
export async function handleIntrospection(ctx: TokenEndpointContext, request: TokenRequest): Promise<Record<string, unknown>> {
  const { token } = await authenticateCaller(ctx, request);
  const check = await checkAccessToken(ctx, token);
  if (!check.active) return { active: false };
  const { claims } = check;
  const jkt = boundKeyThumbprint(claims);
  const custom: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (!RESERVED_CLAIMS.has(name)) Object.defineProperty(custom, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return {
    ...custom,
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    username: claims.preferred_username,
    // RFC 9449 §6.2: a resource server learns from these that the token needs a proof.
    token_type: jkt === undefined ? 'Bearer' : 'DPoP',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
    ...(jkt !== undefined && { cnf: { jkt } }),
  };
}
