import { checkAccessToken } from './access-tokens.js';
import { authenticateClient, readClientCredentials } from './authenticate.js';
import type { ClientRecord } from './client-directory.js';
import { boundKeyThumbprint } from './dpop.js';
import { InvalidRequest, UnauthorizedClient } from './errors.js';
import { readTokenParameters } from './parameters.js';
import { revokeToken } from './revocations.js';
import { concerning, type TokenEndpointContext, type TokenRequest } from './token.js';

/** Authenticates the caller of introspection or revocation exactly as the token endpoint does. */
async function authenticateCaller(ctx: TokenEndpointContext, request: TokenRequest): Promise<{ caller: ClientRecord; token: string }> {
  const params = readTokenParameters(request.body);
  const credentials = readClientCredentials(request.authorization, params);
  let caller: ClientRecord;
  try {
    caller = await authenticateClient(ctx, credentials, request.ip);
  } catch (error) {
    throw concerning(error, ctx.fingerprints.of(credentials.clientId));
  }
  if (params.token === undefined || params.token === '') {
    throw new InvalidRequest('token is required').concerns({ clientId: caller.clientId });
  }
  return { caller, token: params.token };
}

/** RFC 7662. Any authenticated client may introspect; an unusable token is just `active: false`. */
export async function handleIntrospection(ctx: TokenEndpointContext, request: TokenRequest): Promise<Record<string, unknown>> {
  const { token } = await authenticateCaller(ctx, request);
  const check = await checkAccessToken(ctx, token);
  if (!check.active) return { active: false };
  const { claims } = check;
  const jkt = boundKeyThumbprint(claims);
  return {
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

/**
 * RFC 7009. A client may revoke only its own tokens; a token that is already unusable (or
 * not ours) is answered with 200 all the same, as §2.2 asks.
 */
export async function handleRevocation(ctx: TokenEndpointContext, request: TokenRequest): Promise<void> {
  const { caller, token } = await authenticateCaller(ctx, request);
  const check = await checkAccessToken(ctx, token);
  if (!check.active) return;
  const { claims } = check;
  if (claims.client_id !== caller.clientId) {
    throw new UnauthorizedClient('the token was not issued to this client').concerns({ clientId: caller.clientId });
  }
  await revokeToken(ctx.db, String(claims.jti), new Date(Number(claims.exp) * 1000));
  ctx.onChange();
}
