import { checkIssuedToken } from './access-tokens.js';
import { authenticateCaller } from './caller.js';
import { UnauthorizedClient } from './errors.js';
import { revokeToken } from './revocations.js';
import type { TokenEndpointContext, TokenRequest } from './token.js';

/**
 * RFC 7009. A client may revoke only its own tokens; a token that is already unusable (or
 * not ours) is answered with 200 all the same, as §2.2 asks. A token for a trusted issuer's
 * subject has no client of its own: the client that got it by exchange (its `act`) may.
 */
export async function handleRevocation(ctx: TokenEndpointContext, request: TokenRequest): Promise<void> {
  const { caller, token } = await authenticateCaller(ctx, request);
  const check = await checkIssuedToken(ctx, token);
  if (!check.active) return;
  const claims = 'external' in check ? check.external : check.claims;
  const owner = 'external' in check ? check.external.act?.client_id : check.claims.clientId;
  if (owner !== caller.clientId) {
    throw new UnauthorizedClient('the token was not issued to this client').concerns({ clientId: caller.clientId });
  }
  await revokeToken(ctx.db, claims.jti, new Date(claims.exp * 1000), new Date(ctx.clock()));
  await ctx.onChange();
}
