import type { JWK } from 'jose';
import { type Actor, actorDisplayName, actorName } from '../audit/events.js';
import type { clientCredentials } from '../db/schema.js';
import { jwkThumbprint } from './public-keys.js';
import { type NewSecret, newCredentialId } from './secrets.js';

/**
 * The rows of a client's new public keys (createClient, updateClient). Their ids are handed
 * out in ascending order, so that the keys, all made at one time, are listed as given.
 */
export function publicKeyRows(clientUuid: string, keys: readonly JWK[], actor: Actor): Array<typeof clientCredentials.$inferInsert> {
  const ids = keys.map(() => newCredentialId()).sort();
  return keys.map((key, i) => ({
    id: ids[i] ?? newCredentialId(),
    clientUuid,
    kind: 'public_key' as const,
    jwk: key as Record<string, unknown>,
    thumbprint: jwkThumbprint(key),
    createdBy: actorName(actor),
    createdByName: actorDisplayName(actor),
  }));
}

/** The row of a client's new secret (createClient, updateClient, regenerateSecret). */
export function secretRow(
  clientUuid: string,
  secret: { credentialId: string; stored: NewSecret['stored'] },
  actor: Actor,
  description = '',
): typeof clientCredentials.$inferInsert {
  return {
    id: secret.credentialId,
    clientUuid,
    kind: 'secret',
    description,
    ...secret.stored,
    createdBy: actorName(actor),
    createdByName: actorDisplayName(actor),
  };
}
