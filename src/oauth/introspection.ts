import { errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import { clientStatus } from '../clients/rules.js';
import { authenticateClient, readClientCredentials } from './authenticate.js';
import type { ClientRecord } from './client-directory.js';
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

/**
 * The claims of a token this server issued that is still in force: signature and issuer
 * check out, not expired, not revoked, and its client still exists (the same one), active.
 */
async function activeClaims(ctx: TokenEndpointContext, token: string): Promise<JWTPayload | undefined> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, (await ctx.keys.get()).verificationKeys, {
      issuer: ctx.issuer,
      typ: 'at+jwt',
      requiredClaims: ['sub', 'client_id', 'jti', 'exp'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JOSEError) return undefined;
    throw error;
  }
  const client = await ctx.directory.find(String(payload.client_id));
  if (client === undefined || client.uuid !== payload.sub || clientStatus(client) !== 'active') return undefined;
  if (await ctx.revocations.isRevoked(String(payload.jti))) return undefined;
  return payload;
}

/** RFC 7662. Any authenticated client may introspect; an unusable token is just `active: false`. */
export async function handleIntrospection(ctx: TokenEndpointContext, request: TokenRequest): Promise<Record<string, unknown>> {
  const { token } = await authenticateCaller(ctx, request);
  const claims = await activeClaims(ctx, token);
  if (claims === undefined) return { active: false };
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    username: claims.preferred_username,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}

/**
 * RFC 7009. A client may revoke only its own tokens; a token that is already unusable (or
 * not ours) is answered with 200 all the same, as §2.2 asks.
 */
export async function handleRevocation(ctx: TokenEndpointContext, request: TokenRequest): Promise<void> {
  const { caller, token } = await authenticateCaller(ctx, request);
  const claims = await activeClaims(ctx, token);
  if (claims === undefined) return;
  if (claims.client_id !== caller.clientId) {
    throw new UnauthorizedClient('the token was not issued to this client').concerns({ clientId: caller.clientId });
  }
  await revokeToken(ctx.db, String(claims.jti), new Date(Number(claims.exp) * 1000));
  ctx.onChange();
}
