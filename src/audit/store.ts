import { and, desc, eq, exists, gte, ilike, inArray, isNull, lt, or, type SQL, sql } from 'drizzle-orm';
import { ALL_CLIENTS, type ClientVisibility } from '../access/visibility.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { likeSubstring } from '../db/like.js';
import { auditEvents, clients } from '../db/schema.js';
import { ValidationError } from '../lib/errors.js';
import { LATEST_TIMESTAMP, parseTimestamp } from '../lib/time.js';
import type { AuditEventResource, AuditFilters } from '../schemas/audit.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';

/**
 * The audit trail's table, and the only module that queries it: rows written (a change by
 * recordChange in events.ts, the throttled writers' rows), and listed with the filters of
 * the admin API and the CLI.
 */

/** An audit row to write; the database sets its id and time. */
export type AuditRow = typeof auditEvents.$inferInsert;

/** Writes one audit row; returns its id. */
export async function insertAuditEvent(tx: DbOrTx, row: AuditRow): Promise<number> {
  const [inserted] = await tx.insert(auditEvents).values(row).returning({ id: auditEvents.id });
  if (inserted === undefined) throw new Error('insert returned no row');
  return inserted.id;
}

/** Writes several audit rows at once (none: nothing). */
export async function insertAuditEvents(db: DbOrTx, rows: AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(auditEvents).values(rows);
}

/** Writes one audit row unless a unique index already holds its like (a quota's log-mode report of one window). */
export async function insertAuditEventOnce(db: DbOrTx, row: AuditRow): Promise<void> {
  await db.insert(auditEvents).values(row).onConflictDoNothing();
}

/** Which of `clientIds` a client has now: one query for all of them. */
export async function existingClientIds(db: Db, clientIds: string[]): Promise<Set<string>> {
  if (clientIds.length === 0) return new Set();
  const found = await db.select({ clientId: clients.clientId }).from(clients).where(inArray(clients.clientId, clientIds));
  return new Set(found.map((row) => row.clientId));
}

function parseDate(value: string, path: string): Date {
  const date = parseTimestamp(value);
  if (date === undefined) throw new ValidationError([{ path, message: 'must be an RFC 3339 date-time in the years 1 to 9999' }]);
  return date;
}

/**
 * Newest first. The cursor is the id of the last event seen; ids only grow, so events
 * written while an admin pages through never push earlier ones onto a page twice.
 *
 * Under an owner's visibility only the events about that owner's clients: of a client_id
 * they own now, recorded since that client was created (a client_id freed by a delete
 * and taken again by someone else does not bring its earlier history along).
 */
export async function listAuditEvents(
  db: DbOrTx,
  filters: AuditFilters,
  page: { limit?: number | undefined; cursor?: string | undefined } = {},
  visibility: ClientVisibility = ALL_CLIENTS,
): Promise<{ items: AuditEventResource[]; next_cursor: string | null }> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), MAX_PAGE_SIZE);
  const conditions: Array<SQL | undefined> = [];
  if (visibility.kind === 'owner') {
    conditions.push(
      exists(
        db
          .select({ one: clients.id })
          .from(clients)
          .where(
            and(eq(clients.clientId, auditEvents.clientId), eq(clients.owner, visibility.owner), gte(auditEvents.at, clients.createdAt)),
          ),
      ),
    );
  }
  if (page.cursor !== undefined) {
    if (!/^\d{1,18}$/.test(page.cursor)) throw new ValidationError([{ path: '/cursor', message: 'is not a cursor this server issued' }]);
    conditions.push(lt(auditEvents.id, Number(page.cursor)));
  }
  if (filters.action !== undefined) conditions.push(eq(auditEvents.action, filters.action));
  if (filters.client_id !== undefined) conditions.push(concernsClient(filters.client_id));
  if (filters.actor_client_id !== undefined) conditions.push(eq(auditEvents.actorClientId, filters.actor_client_id));
  if (filters.actor !== undefined && filters.actor !== '') conditions.push(ilike(auditEvents.actorName, likeSubstring(filters.actor)));
  if (filters.since !== undefined) conditions.push(gte(auditEvents.at, parseDate(filters.since, '/querystring/since')));
  // Times are shown to the millisecond but stored to the microsecond: `until` covers its
  // whole millisecond, so an event's own `at` as `until` includes that event. The last
  // millisecond of year 9999 needs no bound (every event is earlier), and has none that
  // PostgreSQL could read: its end is in year 10000, which toISOString writes +010000-….
  if (filters.until !== undefined) {
    const until = parseDate(filters.until, '/querystring/until').getTime();
    if (until < LATEST_TIMESTAMP) conditions.push(lt(auditEvents.at, new Date(until + 1)));
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit).map(auditEventResource);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? last.id : null };
}

/** An audit row as the API shows it (and as an event's `data`, events/cloud-events.ts). */
export function auditEventResource(row: typeof auditEvents.$inferSelect): AuditEventResource {
  return {
    id: String(row.id),
    at: row.at.toISOString(),
    action: row.action,
    actor: { client_id: row.actorClientId, sub: row.actorSub, name: row.actorName, ip: row.ip },
    client_id: row.clientId,
    details: row.details as Record<string, unknown>,
    count: row.count,
  };
}

/**
 * Events about one client: those that name it in `client_id`, and the summaries of refused
 * token requests that list it among several client_ids (`details.client_ids`, see
 * DenialRecorder), so that a client's history shows a flood that named it. The second
 * branch is served by the GIN index on that list.
 */
function concernsClient(clientId: string): SQL | undefined {
  return or(
    eq(auditEvents.clientId, clientId),
    and(isNull(auditEvents.clientId), sql`(${auditEvents.details} -> 'client_ids') ? ${clientId}`),
  );
}
