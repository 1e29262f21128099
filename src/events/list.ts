import { and, asc, like, lte, or, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { ValidationError } from '../lib/errors.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';
import { type CloudEventJson, cloudEventJson } from './cloud-events.js';
import { actionLikePattern, EVENT_TYPE_PATTERN } from './types.js';

/** A cursor: the transaction id and the row id of the last event read, `<tx>.<id>`. */
const CURSOR = /^(\d{1,20})\.(\d{1,18})$/;

export interface EventsPage {
  items: CloudEventJson[];
  /** Where the next read starts: after the last event of this page, or where this one started when it is empty. */
  next_cursor: string | null;
}

/**
 * The events, oldest first, for a system that pulls them (a SIEM). Events are the audit
 * rows, in the order of the transactions that wrote them (tx_id, then id), and only those
 * of transactions older than every transaction still open (pg_snapshot_xmin): a
 * transaction that commits later has a higher tx_id than any event served now, so a
 * cursor never moves past an event that was not visible yet. An event therefore appears
 * once its transaction and every older one have ended, usually at once; but at most
 * `maxHoldMs` (EVENTS_MAX_HOLD) after it was recorded, so that one transaction left open
 * (a stuck session on the database, not Portier's own, which end within seconds) cannot
 * stall the stream for good: past that, what it commits later may be behind a reader's cursor.
 * `types`: patterns as webhooks take them (events/types.ts), comma-separated.
 */
export async function listEvents(
  db: DbOrTx,
  source: string,
  query: { after?: string | undefined; types?: string | undefined; limit?: number | undefined },
  hold: { now: number; maxHoldMs: number },
): Promise<EventsPage> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), MAX_PAGE_SIZE);
  const conditions: Array<SQL | undefined> = [
    or(sql`${auditEvents.txId} < pg_snapshot_xmin(pg_current_snapshot())`, lte(auditEvents.at, new Date(hold.now - hold.maxHoldMs))),
  ];
  if (query.after !== undefined) {
    const match = CURSOR.exec(query.after);
    if (match === null) throw new ValidationError([{ path: '/querystring/after', message: 'is not a cursor this server issued' }]);
    conditions.push(sql`(${auditEvents.txId}, ${auditEvents.id}) > (${match[1]}::xid8, ${Number(match[2])}::bigint)`);
  }
  if (query.types !== undefined && query.types !== '') {
    const patterns = query.types.split(',').map((pattern) => pattern.trim());
    const bad = patterns.findIndex((pattern) => !EVENT_TYPE_PATTERN.test(pattern));
    if (bad !== -1) {
      throw new ValidationError([
        {
          path: '/querystring/types',
          message: `"${patterns[bad]?.slice(0, 100)}" is not an event type (dev.portier.…), a prefix ending in *, or *`,
        },
      ]);
    }
    conditions.push(or(...patterns.map((pattern) => like(auditEvents.action, actionLikePattern(pattern)))));
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(asc(auditEvents.txId), asc(auditEvents.id))
    .limit(limit);
  const last = rows.at(-1);
  return {
    items: rows.map((row) => cloudEventJson(row, source)),
    next_cursor: last !== undefined ? `${last.txId}.${last.id}` : (query.after ?? null),
  };
}
