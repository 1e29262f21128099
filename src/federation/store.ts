import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientFederatedIdentities, clients, trustedIssuers } from '../db/schema.js';

/**
 * Federation's tables, and the only module of federation/ that queries them: the trusted
 * issuers (their rules are trusted-issuers.ts's) and the clients' identities of them
 * (identities.ts). Rows in, rows out, in the caller's transaction when given one.
 */

export type TrustedIssuerRow = typeof trustedIssuers.$inferSelect;
/**
 * A client's identity as stored: identities.ts's FederatedIdentity, spelled out here from the
 * table so that the store imports nothing of the rules it serves (identities.ts imports it).
 */
export type FederatedIdentityRow = Omit<typeof clientFederatedIdentities.$inferSelect, 'clientUuid'>;

/** A new issuer's row; the database fills in what it leaves out (flags false, times now). */
export type NewTrustedIssuerRow = typeof trustedIssuers.$inferInsert;
/** The columns a change may set; the id, managed and the times are not among them. */
export type TrustedIssuerChanges = Partial<Omit<NewTrustedIssuerRow, 'id' | 'managed' | 'createdAt' | 'updatedAt'>>;

/** Every trusted issuer, by id. */
export async function trustedIssuerRows(db: DbOrTx): Promise<TrustedIssuerRow[]> {
  return db.select().from(trustedIssuers).orderBy(asc(trustedIssuers.id));
}

export async function getTrustedIssuerRow(db: DbOrTx, id: string): Promise<TrustedIssuerRow | undefined> {
  const [row] = await db.select().from(trustedIssuers).where(eq(trustedIssuers.id, id));
  return row;
}

/** The id of the trusted issuer with this `issuer` (the tokens' `iss`), if any. */
export async function trustedIssuerIdOf(db: DbOrTx, issuer: string): Promise<string | undefined> {
  const [row] = await db.select({ id: trustedIssuers.id }).from(trustedIssuers).where(eq(trustedIssuers.issuer, issuer));
  return row?.id;
}

/**
 * The trusted issuer `id`, locked FOR UPDATE until the transaction `tx` ends: its change or
 * delete and the checks before it see no new identity of it or other change slip in between.
 */
export async function lockTrustedIssuer(tx: DbOrTx, id: string): Promise<TrustedIssuerRow | undefined> {
  const [row] = await tx.select().from(trustedIssuers).where(eq(trustedIssuers.id, id)).for('update');
  return row;
}

/**
 * The trusted issuers with these ids, locked FOR SHARE until the transaction `tx` ends: a
 * client given an identity of one of them is written before a concurrent delete (which
 * locks FOR UPDATE) can look for the clients using it.
 */
export async function lockTrustedIssuers(tx: DbOrTx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await tx.select({ id: trustedIssuers.id }).from(trustedIssuers).where(inArray(trustedIssuers.id, ids)).for('share');
  return new Set(rows.map((row) => row.id));
}

/**
 * Inserts a trusted issuer; undefined when its id or its issuer (both unique) is taken
 * already, also by a concurrent insert: the caller finds out which.
 */
export async function insertTrustedIssuer(tx: DbOrTx, row: NewTrustedIssuerRow): Promise<TrustedIssuerRow | undefined> {
  const [inserted] = await tx.insert(trustedIssuers).values(row).onConflictDoNothing().returning();
  return inserted;
}

/** Sets the given columns of the issuer `id` and its updated_at; undefined when there is no such issuer. */
export async function updateTrustedIssuerRow(tx: DbOrTx, id: string, changes: TrustedIssuerChanges): Promise<TrustedIssuerRow | undefined> {
  const [row] = await tx
    .update(trustedIssuers)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(eq(trustedIssuers.id, id))
    .returning();
  return row;
}

export async function deleteTrustedIssuerRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(trustedIssuers).where(eq(trustedIssuers.id, id));
}

/** The client_ids with an identity of this issuer, in order. */
export async function clientsTrusting(db: DbOrTx, issuerId: string): Promise<string[]> {
  const rows = await db
    .selectDistinct({ clientId: clients.clientId })
    .from(clientFederatedIdentities)
    .innerJoin(clients, eq(clients.id, clientFederatedIdentities.clientUuid))
    .where(eq(clientFederatedIdentities.issuerId, issuerId))
    .orderBy(asc(clients.clientId));
  return rows.map((row) => row.clientId);
}

/** Replaces a client's identities with `identities` (none: removes them all). */
export async function storeFederatedIdentities(tx: DbOrTx, clientUuid: string, identities: FederatedIdentityRow[]): Promise<void> {
  await tx.delete(clientFederatedIdentities).where(eq(clientFederatedIdentities.clientUuid, clientUuid));
  if (identities.length === 0) return;
  await tx
    .insert(clientFederatedIdentities)
    .values(
      identities.map((identity) => ({ clientUuid, issuerId: identity.issuerId, subject: identity.subject, claims: identity.claims })),
    );
}

/** A client's identities, in a stable order. */
export async function loadFederatedIdentities(db: DbOrTx, clientUuid: string): Promise<FederatedIdentityRow[]> {
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
