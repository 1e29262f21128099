import type { ClientRecord } from '../clients/record.js';
import { authenticateClient } from './client-auth/authenticate.js';
import { readClientCredentials } from './client-auth/credentials.js';
import { concerning, InvalidRequest } from './errors.js';
import { readTokenParameters } from './parameters.js';
import type { TokenEndpointContext, TokenRequest } from './token.js';

/** Authenticates the caller of introspection or revocation exactly as the token endpoint does. */
export async function authenticateCaller(
  ctx: TokenEndpointContext,
  request: TokenRequest,
): Promise<{ caller: ClientRecord; token: string }> {
  const params = readTokenParameters(request.body);
  const credentials = readClientCredentials(request.authorization, params, request.certificate);
  let caller: ClientRecord;
  try {
    ({ client: caller } = await authenticateClient(ctx, credentials, request.ip));
  } catch (error) {
    throw concerning(error, ctx.fingerprints.of(credentials.clientId));
  }
  if (params.token === undefined || params.token === '') {
    throw new InvalidRequest('token is required').concerns({ clientId: caller.clientId });
  }
  return { caller, token: params.token };
}
