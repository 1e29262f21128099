import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { type Actor, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { clientCredentials, clients } from '../db/schema.js';
import { type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import { expiryWithinLimit, maxLifetimeDays } from './credential-limits.js';

/**
 * A client's public-key credentials as configuration as code carries them: read for every
 * client at once (an export), and their descriptions and expiries set by thumbprint (an
 * apply, after the keys themselves were made the document's through the client's `jwks`).
 */

/** A public-key credential, as an export shows it. */
export interface KeyCredential {
  thumbprint: string | null;
  description: string;
  expiresAt: Date | null;
  jwk: Record<string, unknown>;
}

/** The public-key credentials of every client, or of one (removed ones are gone), oldest first, by client_id. */
export async function keyCredentialsByClient(db: DbOrTx, clientId?: string): Promise<Map<string, KeyCredential[]>> {
  const rows = await db
    .select({
      clientId: clients.clientId,
      thumbprint: clientCredentials.thumbprint,
      description: clientCredentials.description,
      expiresAt: clientCredentials.expiresAt,
      jwk: clientCredentials.jwk,
    })
    .from(clientCredentials)
    .innerJoin(clients, eq(clients.id, clientCredentials.clientUuid))
    .where(
      and(
        eq(clientCredentials.kind, 'public_key'),
        isNull(clientCredentials.revokedAt),
        clientId === undefined ? undefined : eq(clients.clientId, clientId),
      ),
    )
    .orderBy(asc(clientCredentials.createdAt), asc(clientCredentials.id));
  const byClient = new Map<string, KeyCredential[]>();
  for (const { clientId, jwk, ...row } of rows) {
    if (jwk === null) continue;
    byClient.set(clientId, [...(byClient.get(clientId) ?? []), { ...row, jwk }]);
  }
  return byClient;
}

/** What a document says of one key: undefined fields are left as they are. */
export interface KeyDetails {
  thumbprint: string;
  description?: string | undefined;
  /** null: never (where the maximum lifetime allows). */
  expiresAt?: Date | null | undefined;
  /** Where the entry is, for an error (`/credentials/2`). */
  path: string;
}

/**
 * Sets the description and expiry of the client's public keys named by thumbprint. A key
 * whose expiry changes gets the new one within the maximum lifetime; a later one is 400
 * naming the limit. (A key just added has its expiry already: the maximum lifetime's end,
 * as createClient and updateClient give every new key.) What is already so is not touched,
 * and each change is audited naming the credential.
 */
export async function setKeyDetails(
  tx: DbOrTx,
  clientId: string,
  wanted: readonly KeyDetails[],
  actor: Actor,
  now: number,
  settings: { maxLifetimeDays?: number | undefined },
): Promise<void> {
  const [client] = await tx.select({ id: clients.id }).from(clients).where(eq(clients.clientId, clientId));
  if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
  const rows = await tx
    .select()
    .from(clientCredentials)
    .where(and(eq(clientCredentials.clientUuid, client.id), eq(clientCredentials.kind, 'public_key'), isNull(clientCredentials.revokedAt)));
  const limit = await maxLifetimeDays(tx, client.id, settings);
  const errors: FieldError[] = [];
  const changes: Array<{ id: string; set: { description?: string; expiresAt?: Date | null } }> = [];
  for (const key of wanted) {
    const row = rows.find((candidate) => candidate.thumbprint === key.thumbprint);
    if (row === undefined) continue;
    const set: { description?: string; expiresAt?: Date | null } = {};
    if (key.description !== undefined && key.description !== row.description) set.description = key.description;
    const expiryChanged = key.expiresAt !== undefined && (key.expiresAt?.getTime() ?? null) !== (row.expiresAt?.getTime() ?? null);
    if (expiryChanged) {
      try {
        if (key.expiresAt != null && key.expiresAt.getTime() <= now) {
          throw new ValidationError([{ path: '/expires_at', message: 'must be in the future' }]);
        }
        const expiresAt = expiryWithinLimit(key.expiresAt ?? null, now, limit);
        if ((expiresAt?.getTime() ?? null) !== (row.expiresAt?.getTime() ?? null)) set.expiresAt = expiresAt;
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        errors.push(...error.errors.map((found) => ({ path: `${key.path}${found.path}`, message: found.message })));
      }
    }
    if (Object.keys(set).length > 0) changes.push({ id: row.id, set });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  for (const { id, set } of changes) {
    await tx.update(clientCredentials).set(set).where(eq(clientCredentials.id, id));
    await recordChange(tx, {
      action: 'credential.updated',
      actor,
      clientId,
      details: {
        credential_id: id,
        ...(set.description !== undefined && { description: set.description }),
        ...(set.expiresAt !== undefined && { expires_at: set.expiresAt?.toISOString() ?? null }),
      },
    });
  }
  if (changes.length > 0) await tx.update(clients).set({ updatedAt: sql`now()` }).where(eq(clients.id, client.id));
}
