import { type AnyColumn, eq, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientGrants, services } from '../db/schema.js';

/**
 * The longest a credential of the client may live, in days: the smallest of
 * CREDENTIAL_MAX_LIFETIME_DAYS and the credential_max_lifetime_days of the services it is
 * granted; undefined when none sets one.
 */
export async function maxLifetimeDays(db: DbOrTx, clientUuid: string, settings: { maxLifetimeDays?: number | undefined }) {
  const rows = await db
    .select({ days: services.credentialMaxLifetimeDays })
    .from(clientGrants)
    .innerJoin(services, eq(services.id, clientGrants.serviceId))
    .where(eq(clientGrants.clientUuid, clientUuid));
  const limits = [settings.maxLifetimeDays, ...rows.map((row) => row.days)].filter((days): days is number => typeof days === 'number');
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/**
 * The same limit as maxLifetimeDays, as a SQL expression for each row of a query that
 * reads clients (`clientUuid`, e.g. clients.id): for a sweep over every client at once
 * (events/notices.ts). NULL when none sets one (least() passes over NULLs).
 */
export function maxLifetimeDaysSql(clientUuid: SQL | AnyColumn, settings: { maxLifetimeDays?: number | undefined }): SQL<number | null> {
  const granted = sql`(SELECT min(${services.credentialMaxLifetimeDays}) FROM ${clientGrants} INNER JOIN ${services} ON ${services.id} = ${clientGrants.serviceId} WHERE ${clientGrants.clientUuid} = ${clientUuid})`;
  return settings.maxLifetimeDays === undefined
    ? sql<number | null>`${granted}`
    : sql<number | null>`least(${settings.maxLifetimeDays}::integer, ${granted})`;
}
