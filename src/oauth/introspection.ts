import { serviceAccountUsername } from '../clients/rules.js';
import { checkIssuedToken } from './access-tokens.js';
import { authenticateCaller } from './caller.js';
import type { TokenEndpointContext, TokenRequest } from './token.js';

/**
 * RFC 7662. Any authenticated client may introspect; an unusable token is just `active: false`.
 * The answer is made of the checked claims only (see readAccessTokenClaims); the custom
 * claims of the token (its client's, its services', the issuance hook's) come with the
 * standard members, which they can never replace. A token for a trusted issuer's subject
 * (token exchange) has no client: no client_id nor username, its `sub` is `<issuer id>:<sub>`.
 */
export async function handleIntrospection(ctx: TokenEndpointContext, request: TokenRequest): Promise<Record<string, unknown>> {
  const { token } = await authenticateCaller(ctx, request);
  const check = await checkIssuedToken(ctx, token);
  if (!check.active) return { active: false };
  const claims = 'external' in check ? check.external : check.claims;
  return {
    ...claims.custom,
    active: true,
    scope: claims.scope,
    ...('claims' in check && { client_id: check.claims.clientId, username: serviceAccountUsername(check.claims.clientId) }),
    // RFC 9449 §6.2: a resource server learns from these that the token needs a proof.
    token_type: claims.jkt === undefined ? 'Bearer' : 'DPoP',
    exp: claims.exp,
    ...(claims.iat !== undefined && { iat: claims.iat }),
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
    // RFC 9449 §6.2 and RFC 8705 §3.2: what the token is bound to, for the resource server to check.
    ...((claims.jkt !== undefined || claims.x5t !== undefined) && {
      cnf: { ...(claims.jkt !== undefined && { jkt: claims.jkt }), ...(claims.x5t !== undefined && { 'x5t#S256': claims.x5t }) },
    }),
    // A federated client's token: which platform identity (trusted issuer id and subject) got it.
    ...('claims' in check && check.claims.federatedIdentity !== undefined && { federated_identity: check.claims.federatedIdentity }),
    // A token got by token exchange: who acts for the subject, and the chain before (RFC 8693 §4.1).
    ...(claims.act !== undefined && { act: claims.act }),
    ...('claims' in check && check.claims.mayAct !== undefined && { may_act: check.claims.mayAct }),
  };
}
