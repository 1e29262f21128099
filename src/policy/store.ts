import { eq, gte, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/connect.js';
import { clients } from '../db/schema.js';
import { clientUsage } from '../db/schema-usage.js';

/**
 * The token policy's tables, and the only module of policy/ that queries them: the shared
 * quota counts (quota_counts, quota.ts) and the usage counters (client_usage, usage.ts).
 * Each write is one statement for all clients, whatever their number.
 */

/** Tokens an instance issued to a client in an hour and has not yet added to the shared count. */
export interface QuotaCountWrite {
  uuid: string;
  hourStart: number;
  tokens: number;
}

/** Adds the counts to quota_counts, one row per client and hour, in one statement. */
export async function addQuotaCounts(db: Db, writes: QuotaCountWrite[]): Promise<void> {
  if (writes.length === 0) return;
  const values = sql.join(
    writes.map((write) => sql`(${write.uuid}::uuid, ${new Date(write.hourStart).toISOString()}::timestamptz, ${write.tokens}::bigint)`),
    sql`, `,
  );
  await db.execute(sql`
    INSERT INTO quota_counts (client_uuid, hour_start, tokens)
    SELECT client_uuid, hour_start, sum(tokens) FROM (VALUES ${values}) AS counted(client_uuid, hour_start, tokens)
    GROUP BY client_uuid, hour_start
    ON CONFLICT (client_uuid, hour_start) DO UPDATE SET tokens = quota_counts.tokens + excluded.tokens`);
}

/** Every instance's count of the hour and of the day so far, for these clients. */
export async function readQuotaCounts(
  db: Db,
  uuids: string[],
  hour: number,
  day: number,
): Promise<Map<string, { hour: number; day: number }>> {
  const list = sql.join(
    uuids.map((uuid) => sql`${uuid}::uuid`),
    sql`, `,
  );
  const result = await db.execute(sql`
    SELECT client_uuid::text AS uuid,
           coalesce(sum(tokens) FILTER (WHERE hour_start = ${new Date(hour).toISOString()}::timestamptz), 0)::bigint AS hour,
           coalesce(sum(tokens), 0)::bigint AS day
    FROM quota_counts
    WHERE client_uuid IN (${list}) AND hour_start >= ${new Date(day).toISOString()}::timestamptz
    GROUP BY client_uuid`);
  const rows = (result as unknown as { rows: Array<{ uuid: string; hour: string | number; day: string | number }> }).rows;
  return new Map(rows.map((row) => [row.uuid, { hour: Number(row.hour), day: Number(row.day) }]));
}

/** One client's tokens and refusals of one hour, counted in memory. */
export interface UsageCount {
  clientId: string;
  hourStart: number;
  tokens: number;
  refusals: number;
}

/**
 * Adds the counts to client_usage in one statement, a row per client and hour, found by
 * client_id; counts of a client deleted meanwhile have no row to go to and are dropped.
 */
export async function addUsageCounts(db: Db, counts: UsageCount[]): Promise<void> {
  const values = sql.join(
    counts.map(
      (count) =>
        sql`(${count.clientId}, ${new Date(count.hourStart).toISOString()}::timestamptz, ${count.tokens}::bigint, ${count.refusals}::bigint)`,
    ),
    sql`, `,
  );
  await db.execute(sql`
    INSERT INTO client_usage (client_uuid, hour_start, tokens, refusals)
    SELECT clients.id, counted.hour_start, sum(counted.tokens), sum(counted.refusals)
    FROM (VALUES ${values}) AS counted(client_id, hour_start, tokens, refusals)
    JOIN clients ON clients.client_id = counted.client_id
    GROUP BY clients.id, counted.hour_start
    ON CONFLICT (client_uuid, hour_start) DO UPDATE
      SET tokens = client_usage.tokens + excluded.tokens, refusals = client_usage.refusals + excluded.refusals`);
}

/** The client's row id and owner, for reading its usage; undefined when there is no such client. */
export async function usageSubject(db: DbOrTx, clientId: string): Promise<{ id: string; owner: string } | undefined> {
  const [client] = await db.select({ id: clients.id, owner: clients.owner }).from(clients).where(eq(clients.clientId, clientId));
  return client;
}

/** The client's usage rows of the hours from `since` on. */
export async function usageRows(
  db: DbOrTx,
  clientUuid: string,
  since: Date,
): Promise<Array<{ hourStart: Date; tokens: number; refusals: number }>> {
  return db
    .select({ hourStart: clientUsage.hourStart, tokens: clientUsage.tokens, refusals: clientUsage.refusals })
    .from(clientUsage)
    .where(sql`${clientUsage.clientUuid} = ${clientUuid} AND ${gte(clientUsage.hourStart, since)}`);
}
