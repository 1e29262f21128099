import type { ClientDirectory } from '../../clients/directory.js';
import type { ClientRecord } from '../../clients/record.js';
import { clientStatus, isValidClientId } from '../../clients/rules.js';
import { type FederatedIdentityUse, identityMatches } from '../../federation/identities.js';
import {
  type PlatformTokenContext,
  PlatformTokenRejected,
  type VerifiedPlatformToken,
  verifyPlatformToken,
} from '../../federation/platform-tokens.js';
import type { TrustedIssuerRecord } from '../../federation/trusted-issuers.js';
import { isAddressAllowed } from '../../lib/networks.js';
import { redactSecrets } from '../../lib/redact.js';
import { InvalidClient } from '../errors.js';
import { CLIENT_ASSERTION_TYPE } from './client-assertion.js';
import type { FederatedCredentials } from './credentials.js';
import type { RemoteJwks } from './remote-jwks.js';

/**
 * Federated client authentication: a workload signs in with the JWT its platform already
 * gives it as its RFC 7523 client assertion. The token is checked as every platform token
 * is (federation/platform-tokens.ts); what is left here is the client it signs in.
 */

/** What the federated check needs beyond what every client authentication has. */
export interface FederationContext extends PlatformTokenContext {
  directory: ClientDirectory;
  remoteJwks: RemoteJwks;
}

/** A client that signed in with a platform's JWT, and which of its identities it was. */
export interface FederatedAuthentication {
  client: ClientRecord;
  /** A federated client holds no credential of its own. */
  credentialId?: undefined;
  identity: FederatedIdentityUse;
}

/**
 * Checks a platform's JWT presented as a client assertion (verifyPlatformToken), then the
 * client: the one named by client_id, whose identities must match the token, or else the
 * single client with an identity matching it (found by issuer and subject); that client
 * active and the caller within its IP ranges. Throws InvalidClient, whose private detail
 * says why.
 */
export async function checkFederatedAssertion(
  ctx: FederationContext,
  credentials: FederatedCredentials,
  callerIp: string,
): Promise<FederatedAuthentication> {
  if (credentials.assertionType !== CLIENT_ASSERTION_TYPE) throw new InvalidClient('unsupported client_assertion_type');
  let token: VerifiedPlatformToken;
  try {
    token = await verifyPlatformToken(ctx, credentials.assertion, 'client_authentication');
  } catch (error) {
    if (error instanceof PlatformTokenRejected) throw new InvalidClient(error.detail);
    throw error;
  }
  const { issuer, subject } = token;
  const identity = `platform token of trusted issuer "${issuer.id}" for subject ${JSON.stringify(redactSecrets(subject))}`;
  const client = await findClient(ctx, credentials.requestedClientId, token, identity);
  const reject = (detail: string): never => {
    throw new InvalidClient(detail).concerns({ clientId: client.clientId });
  };
  const status = clientStatus(client, ctx.clock());
  if (status !== 'active') return reject(`client is ${status}`);
  if (!isAddressAllowed(callerIp, client.networks)) return reject(`caller ${callerIp} is outside the client's IP ranges`);
  return { client, identity: { issuer: issuer.id, subject } };
}

/**
 * The client the verified token signs in: the one named by `requestedClientId`, which must
 * be federated with an identity of this issuer matching the token; without a client_id,
 * the single client with such an identity. Throws InvalidClient otherwise.
 */
async function findClient(
  ctx: FederationContext,
  requestedClientId: string | undefined,
  { issuer, claims }: { issuer: TrustedIssuerRecord; claims: VerifiedPlatformToken['claims'] },
  identity: string,
): Promise<ClientRecord> {
  const matches = (client: ClientRecord) =>
    client.authMethod === 'federated' &&
    client.federatedIdentities.some((candidate) => candidate.issuerId === issuer.id && identityMatches(candidate, claims));
  if (requestedClientId !== undefined) {
    if (!isValidClientId(requestedClientId)) throw new InvalidClient(`${identity}: not a well-formed client_id`);
    const client = await ctx.directory.find(requestedClientId);
    if (client === undefined) throw new InvalidClient(`${identity}: unknown client`);
    if (client.authMethod !== 'federated') {
      throw new InvalidClient(`${identity}: client authenticates with ${client.authMethod}, not a platform token`).concerns({
        clientId: client.clientId,
      });
    }
    if (!matches(client)) {
      throw new InvalidClient(`${identity}: no federated identity of the client matches the token`).concerns({ clientId: client.clientId });
    }
    return client;
  }
  const candidates = await ctx.federation.clientsWithIdentity(issuer.id, String(claims.sub));
  const found: ClientRecord[] = [];
  for (const clientId of candidates) {
    const client = await ctx.directory.find(clientId);
    if (client !== undefined && matches(client)) found.push(client);
  }
  const [only, another] = found;
  if (only === undefined) throw new InvalidClient(`${identity}: no client has an identity matching the token`);
  if (another !== undefined) {
    throw new InvalidClient(
      `${identity}: several clients have an identity matching the token (${found.map((c) => c.clientId).join(', ')}); send client_id`,
    );
  }
  return only;
}
