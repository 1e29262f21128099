import { and, asc, eq } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientFederatedIdentities, clients } from '../db/schema.js';
import type { FederatedIdentity } from './identities.js';

/**
 * Federation's queries of the clients' identities (trusted-issuers.ts still holds those of
 * the issuers' create, update and delete, to move here with them).
 */

/** Replaces a client's identities with `identities` (none: removes them all). */
export async function storeFederatedIdentities(tx: DbOrTx, clientUuid: string, identities: FederatedIdentity[]): Promise<void> {
  await tx.delete(clientFederatedIdentities).where(eq(clientFederatedIdentities.clientUuid, clientUuid));
  if (identities.length === 0) return;
  await tx
    .insert(clientFederatedIdentities)
    .values(
      identities.map((identity) => ({ clientUuid, issuerId: identity.issuerId, subject: identity.subject, claims: identity.claims })),
    );
}

/** A client's identities, in a stable order. */
export async function loadFederatedIdentities(db: DbOrTx, clientUuid: string): Promise<FederatedIdentity[]> {
  const rows = await db
    .select()
    .from(clientFederatedIdentities)
    .where(eq(clientFederatedIdentities.clientUuid, clientUuid))
    .orderBy(asc(clientFederatedIdentities.issuerId), asc(clientFederatedIdentities.subject));
  return rows.map((row) => ({ issuerId: row.issuerId, subject: row.subject, claims: row.claims }));
}

/** More clients than this with one issuer and subject: none of them is "the single client" anyway. */
const MAX_CANDIDATES = 20;

/**
 * The client_ids with an identity of this issuer and subject (at most MAX_CANDIDATES + 1),
 * found through the index on (issuer_id, subject): how a token request without a client_id
 * finds its client.
 */
export async function findClientsByIdentity(db: DbOrTx, issuerId: string, subject: string): Promise<string[]> {
  const rows = await db
    .select({ clientId: clients.clientId })
    .from(clientFederatedIdentities)
    .innerJoin(clients, eq(clients.id, clientFederatedIdentities.clientUuid))
    .where(and(eq(clientFederatedIdentities.issuerId, issuerId), eq(clientFederatedIdentities.subject, subject)))
    .orderBy(asc(clients.clientId))
    .limit(MAX_CANDIDATES + 1);
  return rows.map((row) => row.clientId);
}
