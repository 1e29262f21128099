import { checkAccessToken } from './access-tokens.js';
import { authenticateCaller } from './caller.js';
import { boundKeyThumbprint } from './dpop.js';
import { FEDERATED_IDENTITY_CLAIM } from './issue.js';
import type { TokenEndpointContext, TokenRequest } from './token.js';

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
    // A federated client's token: which platform identity (trusted issuer id and subject) got it.
    ...(claims[FEDERATED_IDENTITY_CLAIM] !== undefined && { federated_identity: claims[FEDERATED_IDENTITY_CLAIM] }),
  };
}
