import { asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientGrants, clients, services } from '../db/schema.js';

/**
 * The service catalogue's table, and the only module of services/ that queries it. The rules
 * (who may change what, which conflicts are refused, what is audited) are services.ts's;
 * these functions only read and write rows, in the caller's transaction when given one.
 */

export type ServiceRow = typeof services.$inferSelect;
/** A new service's row; the database fills in what it leaves out (flags false, times now). */
export type NewServiceRow = typeof services.$inferInsert;
/** The columns a change may set; the id, built_in, managed and the times are not among them. */
export type ServiceChanges = Partial<Omit<NewServiceRow, 'id' | 'builtIn' | 'managed' | 'createdAt' | 'updatedAt'>>;

/** Every scope some service offers, each once, sorted: what discovery lists as scopes_supported. */
export async function offeredScopes(db: DbOrTx): Promise<string[]> {
  const rows = await db.select({ scopes: services.scopes }).from(services);
  return [...new Set(rows.flatMap((row) => row.scopes))].sort();
}

export async function getServiceRow(db: DbOrTx, id: string): Promise<ServiceRow | undefined> {
  const [row] = await db.select().from(services).where(eq(services.id, id));
  return row;
}

/** Every service, by id. */
export async function serviceRows(db: DbOrTx): Promise<ServiceRow[]> {
  return db.select().from(services).orderBy(asc(services.id));
}

/**
 * The service `id`, locked FOR UPDATE until the transaction `tx` ends: its change or delete
 * and the checks before it see no grant or other change slip in between.
 */
export async function lockService(tx: DbOrTx, id: string): Promise<ServiceRow | undefined> {
  const [row] = await tx.select().from(services).where(eq(services.id, id)).for('update');
  return row;
}

/**
 * The services with these ids, locked FOR SHARE until the transaction `tx` ends: a client
 * being granted them is written before any concurrent delete or scope change of theirs
 * (which lock FOR UPDATE) can look for the clients using them.
 */
export async function lockServicesForGrant(tx: DbOrTx, ids: string[]): Promise<Map<string, ServiceRow>> {
  if (ids.length === 0) return new Map();
  const rows = await tx.select().from(services).where(inArray(services.id, ids)).for('share');
  return new Map(rows.map((row) => [row.id, row]));
}

/** The id of the service with this audience, if any. */
export async function serviceIdWithAudience(db: DbOrTx, audience: string): Promise<string | undefined> {
  const [row] = await db.select({ id: services.id }).from(services).where(eq(services.audience, audience));
  return row?.id;
}

/**
 * Inserts a service; undefined when its id or its audience (both unique) is taken already,
 * also by a concurrent insert: the caller finds out which.
 */
export async function insertService(tx: DbOrTx, row: NewServiceRow): Promise<ServiceRow | undefined> {
  const [inserted] = await tx.insert(services).values(row).onConflictDoNothing().returning();
  return inserted;
}

/** Sets the given columns of the service `id` and its updated_at; undefined when there is no such service. */
export async function updateServiceRow(tx: DbOrTx, id: string, changes: ServiceChanges): Promise<ServiceRow | undefined> {
  const [row] = await tx
    .update(services)
    .set({ ...changes, updatedAt: sql`now()` })
    .where(eq(services.id, id))
    .returning();
  return row;
}

export async function deleteServiceRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(services).where(eq(services.id, id));
}

/** The client_ids granted a service (and, when `scopes` is given, one of those scopes), in order. */
export async function clientsGranted(db: DbOrTx, serviceId: string, scopes?: string[]): Promise<string[]> {
  const rows = await db
    .select({ clientId: clients.clientId, scopes: clientGrants.scopes })
    .from(clientGrants)
    .innerJoin(clients, eq(clients.id, clientGrants.clientUuid))
    .where(eq(clientGrants.serviceId, serviceId))
    .orderBy(asc(clients.clientId));
  return rows.filter((row) => scopes === undefined || row.scopes.some((scope) => scopes.includes(scope))).map((row) => row.clientId);
}
