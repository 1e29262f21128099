import { type AnyColumn, eq, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientGrants, services } from '../db/schema.js';
import { ValidationError } from '../lib/errors.js';

export const DAY_MS = 86_400_000;

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
 * A new credential's expiry under the maximum lifetime: the one asked for, no later than
 * the limit (a later one is 400 naming it), and the limit itself when none is asked for.
 */
export function expiryWithinLimit(requested: Date | null, now: number, limitDays: number | undefined): Date | null {
  if (limitDays === undefined) return requested;
  const latest = new Date(now + limitDays * DAY_MS);
  if (requested === null) return latest;
  if (requested.getTime() > latest.getTime()) {
    throw new ValidationError([
      {
        path: '/expires_at',
        message: `must be at most ${limitDays} days from now (${latest.toISOString()}): the maximum credential lifetime for this client`,
      },
    ]);
  }
  return requested;
}

/**
 * The expiry of a credential the client gets now, however it comes (POST .../credentials, a
 * new client's first secret or keys, a `jwks` PATCH, a switch to client_secret, a
 * regeneration): `requested` (null: none asked for) within the client's maximum lifetime,
 * with the limit that applied. Call it once the client's grants are as they will be: its
 * services' limits count.
 */
export async function newCredentialExpiry(
  db: DbOrTx,
  clientUuid: string,
  now: number,
  settings: { maxLifetimeDays?: number | undefined },
  requested: Date | null = null,
): Promise<{ expiresAt: Date | null; limitDays: number | undefined }> {
  const limitDays = await maxLifetimeDays(db, clientUuid, settings);
  return { expiresAt: expiryWithinLimit(requested, now, limitDays), limitDays };
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
