import type { JWK } from 'jose';
import { type Actor, actorDisplayName, actorName } from '../audit/events.js';
import type { clientCredentials } from '../db/schema.js';
import { jwkThumbprint } from './public-keys.js';
import { type NewSecret, newCredentialId } from './secrets.js';

/**
 * What a new credential row holds besides its secret or key. `expiresAt` has no default:
 * each way a credential is made states its end, within the client's maximum lifetime
 * (newCredentialExpiry in credential-limits.ts), so that none is forgotten.
 */
export interface NewCredentialDetails {
  expiresAt: Date | null;
  description?: string | undefined;
}

/**
 * The rows of a client's new public keys (createClient, updateClient, addCredential). Their
 * ids are handed out in ascending order, so that the keys, all made at one time, are listed
 * as given.
 */
export function publicKeyRows(
  clientUuid: string,
  keys: readonly JWK[],
  actor: Actor,
  details: NewCredentialDetails,
): Array<typeof clientCredentials.$inferInsert> {
  const ids = keys.map(() => newCredentialId()).sort();
  return keys.map((key, i) => ({
    id: ids[i] ?? newCredentialId(),
    clientUuid,
    kind: 'public_key' as const,
    description: details.description ?? '',
    jwk: key as Record<string, unknown>,
    thumbprint: jwkThumbprint(key),
    createdBy: actorName(actor),
    createdByName: actorDisplayName(actor),
    expiresAt: details.expiresAt,
  }));
}

/** The row of a client's new secret (createClient, updateClient, regenerateSecret, addCredential, bootstrap). */
export function secretRow(
  clientUuid: string,
  secret: { credentialId: string; stored: NewSecret['stored'] },
  actor: Actor,
  details: NewCredentialDetails,
): typeof clientCredentials.$inferInsert {
  return {
    id: secret.credentialId,
    clientUuid,
    kind: 'secret',
    description: details.description ?? '',
    ...secret.stored,
    createdBy: actorName(actor),
    createdByName: actorDisplayName(actor),
    expiresAt: details.expiresAt,
  };
}
