import {
  and,
  asc,
  desc,
  eq,
  exists,
  gt,
  ilike,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  type SQL,
  type SQLWrapper,
  sql,
} from 'drizzle-orm';
import { ALL_CLIENTS, type ClientVisibility as ClientScope } from '../access/visibility.js';
import type { DbOrTx } from '../db/connect.js';
import { likeSubstring } from '../db/like.js';
import { clientCredentials, clientGrants, clients } from '../db/schema.js';
import { ValidationError } from '../lib/errors.js';
import { parseTimestamp } from '../lib/time.js';
import type { ClientFilters, ClientPage, ClientResource } from '../schemas/clients.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';
import { CLIENT_SORT_FIELDS, type ClientSortField } from '../schemas/enums.js';
import { CLIENT_RESOURCE_RELATIONS, toClientResource } from './resource.js';
import { isValidClientId } from './rules.js';

export const DEFAULT_PAGE_SIZE = 50;

/**
 * The orders a list can be in: each a column, ties broken by client_id (unique, never
 * changes). A column that may be empty sorts as if it held a value past every real one:
 * a client that never expires after every expiry, one never used before every use, so
 * "-expires_at" puts the ones that never expire first and "last_used_at" the unused ones.
 */
const SORT_COLUMNS: Record<ClientSortField, { column: SQLWrapper; kind: 'text' | 'time'; empty: string | undefined }> = {
  client_id: { column: clients.clientId, kind: 'text', empty: undefined },
  name: { column: clients.name, kind: 'text', empty: undefined },
  owner: { column: clients.owner, kind: 'text', empty: undefined },
  created_at: { column: clients.createdAt, kind: 'time', empty: undefined },
  last_used_at: { column: clients.lastUsedAt, kind: 'time', empty: '-infinity' },
  expires_at: { column: clients.expiresAt, kind: 'time', empty: 'infinity' },
};

/** A parsed `sort=`: a field, and whether it goes down ("-" in front). */
interface ClientSort {
  field: ClientSortField;
  descending: boolean;
}

export function parseSort(sort: string | undefined): ClientSort {
  if (sort === undefined || sort === '') return { field: 'client_id', descending: false };
  const descending = sort.startsWith('-');
  const field = descending ? sort.slice(1) : sort;
  if (!(CLIENT_SORT_FIELDS as readonly string[]).includes(field)) {
    throw new ValidationError([
      { path: '/querystring/sort', message: `must be one of ${CLIENT_SORT_FIELDS.join(', ')}, with - in front for descending` },
    ]);
  }
  return { field: field as ClientSortField, descending };
}

/** The sort as `sort=` spells it. */
function sortKey(sort: ClientSort): string {
  return sort.descending ? `-${sort.field}` : sort.field;
}

/** The value a row sorts by, as the cursor keeps it: text, or a timestamp as ISO 8601 or ±infinity. */
function sortValue(
  sort: ClientSort,
  row: { clientId: string; name: string; owner: string; createdAt: Date; lastUsedAt: Date | null; expiresAt: Date | null },
): string {
  switch (sort.field) {
    case 'client_id':
      return row.clientId;
    case 'name':
      return row.name;
    case 'owner':
      return row.owner;
    case 'created_at':
      return row.createdAt.toISOString();
    case 'last_used_at':
      return row.lastUsedAt?.toISOString() ?? '-infinity';
    case 'expires_at':
      return row.expiresAt?.toISOString() ?? 'infinity';
  }
}

/** The column as it sorts: an empty one as its stand-in value. */
function sortExpression(sort: ClientSort): SQL {
  const { column, empty } = SORT_COLUMNS[sort.field];
  return empty === undefined ? sql`${column}` : sql`coalesce(${column}, ${empty}::timestamptz)`;
}

/**
 * Keyset pagination on (sort column, client_id): a page starts after the last row of the
 * previous one in that order, so no row is seen twice or skipped however many clients are
 * added or deleted between pages. The cursor is opaque to callers; it names its sort, and
 * is refused with another one.
 */
interface Cursor {
  after: string;
  sort: string;
  value: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function isCursorValue(sort: ClientSort, value: string): boolean {
  if (SORT_COLUMNS[sort.field].kind === 'text') return value.length <= 200;
  return value === 'infinity' || value === '-infinity' || parseTimestamp(value) !== undefined;
}

/** Where a cursor continues. Only what this server put in one, for this sort, is taken. */
function decodeCursor(cursor: string, sort: ClientSort, sortText: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    // refused below
  }
  if (
    typeof parsed === 'object' &&
    parsed !== null &&
    'after' in parsed &&
    typeof parsed.after === 'string' &&
    isValidClientId(parsed.after)
  ) {
    // A cursor without a sort comes from before sorting existed: it is in client_id order.
    const cursorSort = 'sort' in parsed && typeof parsed.sort === 'string' ? parsed.sort : 'client_id';
    const value = 'value' in parsed && typeof parsed.value === 'string' ? parsed.value : parsed.after;
    if (cursorSort !== sortText) {
      throw new ValidationError([{ path: '/cursor', message: 'belongs to another sort: start again without a cursor' }]);
    }
    if (isCursorValue(sort, value)) return { after: parsed.after, sort: cursorSort, value };
  }
  throw new ValidationError([{ path: '/cursor', message: 'is not a cursor this server issued' }]);
}

/** After the cursor's row in the list's order. */
function afterCursor(sort: ClientSort, cursor: Cursor): SQL {
  const value = SORT_COLUMNS[sort.field].kind === 'time' ? sql`${cursor.value}::timestamptz` : sql`${cursor.value}`;
  return sort.descending
    ? sql`(${sortExpression(sort)}, ${clients.clientId}) < (${value}, ${cursor.after})`
    : sql`(${sortExpression(sort)}, ${clients.clientId}) > (${value}, ${cursor.after})`;
}

function parseDate(value: string, path: string): Date {
  const date = parseTimestamp(value);
  if (date === undefined) throw new ValidationError([{ path, message: 'must be an RFC 3339 date-time in the years 1 to 9999' }]);
  return date;
}

/** The SQL form of clientStatus() in rules.ts: the two must agree. */
function statusCondition(status: NonNullable<ClientFilters['status']>, now: Date): SQL | undefined {
  const expired = and(isNotNull(clients.expiresAt), lte(clients.expiresAt, now));
  switch (status) {
    case 'disabled':
      return eq(clients.enabled, false);
    case 'expired':
      return and(eq(clients.enabled, true), expired);
    case 'active':
      return and(eq(clients.enabled, true), or(isNull(clients.expiresAt), gt(clients.expiresAt, now)));
  }
}

/**
 * The client expires between now and `before`, or one of its live (not revoked, not yet
 * expired) credentials does: what a person must act on soon. Already expired ones are not
 * "expiring": the status filter finds those.
 */
function expiringCondition(db: DbOrTx, before: Date, now: Date): SQL | undefined {
  return or(
    and(gt(clients.expiresAt, now), lt(clients.expiresAt, before)),
    exists(
      db
        .select({ one: clientCredentials.id })
        .from(clientCredentials)
        .where(
          and(
            eq(clientCredentials.clientUuid, clients.id),
            isNull(clientCredentials.revokedAt),
            gt(clientCredentials.expiresAt, now),
            lt(clientCredentials.expiresAt, before),
          ),
        ),
    ),
  );
}

/**
 * One page of clients matching every given filter, with their grants and ranges, in one
 * query. Under an owner's scope the owner is a condition of its own, beside the filters:
 * an `owner` filter can narrow the page (to nothing), never widen it.
 */
export async function listClients(
  db: DbOrTx,
  filters: ClientFilters,
  page: { limit?: number | undefined; cursor?: string | undefined; sort?: string | undefined } = {},
  at: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<ClientPage> {
  const limit = Math.min(Math.max(page.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const now = new Date(at);
  const sort = parseSort(page.sort);
  const conditions: Array<SQL | undefined> = [];
  if (scope.kind === 'owner') conditions.push(eq(clients.owner, scope.owner));
  if (page.cursor !== undefined) conditions.push(afterCursor(sort, decodeCursor(page.cursor, sort, sortKey(sort))));
  if (filters.name !== undefined && filters.name !== '') conditions.push(ilike(clients.name, likeSubstring(filters.name)));
  if (filters.owner !== undefined) conditions.push(eq(clients.owner, filters.owner));
  if (filters.created_by !== undefined) conditions.push(eq(clients.createdBy, filters.created_by));
  if (filters.status !== undefined) conditions.push(statusCondition(filters.status, now));
  if (filters.service !== undefined) {
    const service = filters.service;
    conditions.push(
      exists(
        db
          .select({ one: clientGrants.serviceId })
          .from(clientGrants)
          .where(and(eq(clientGrants.clientUuid, clients.id), eq(clientGrants.serviceId, service))),
      ),
    );
  }
  if (filters.expires_before !== undefined)
    conditions.push(lt(clients.expiresAt, parseDate(filters.expires_before, '/querystring/expires_before')));
  if (filters.expires_after !== undefined)
    conditions.push(gt(clients.expiresAt, parseDate(filters.expires_after, '/querystring/expires_after')));
  if (filters.expiring_before !== undefined) {
    conditions.push(expiringCondition(db, parseDate(filters.expiring_before, '/querystring/expiring_before'), now));
  }
  if (filters.unused_since !== undefined) {
    const since = parseDate(filters.unused_since, '/querystring/unused_since');
    conditions.push(lt(sql`coalesce(${clients.lastUsedAt}, ${clients.createdAt})`, since));
  }

  const rows = await db.query.clients.findMany({
    where: and(...conditions),
    with: CLIENT_RESOURCE_RELATIONS,
    orderBy: sort.descending ? [desc(sortExpression(sort)), desc(clients.clientId)] : [asc(sortExpression(sort)), asc(clients.clientId)],
    limit: limit + 1,
  });
  const pageRows = rows.slice(0, limit);
  const items = pageRows.map((row) => toClientResource(row, now.getTime()));
  const last = pageRows.at(-1);
  const nextCursor =
    rows.length > limit && last !== undefined
      ? encodeCursor({ after: last.clientId, sort: sortKey(sort), value: sortValue(sort, last) })
      : null;
  return { items, next_cursor: nextCursor };
}

/** Every client, by client_id, as the API shows it: for a configuration export. */
export async function listAllClients(db: DbOrTx, at: number): Promise<ClientResource[]> {
  const rows = await db.query.clients.findMany({ with: CLIENT_RESOURCE_RELATIONS, orderBy: asc(clients.clientId) });
  return rows.map((row) => toClientResource(row, at));
}

/** Which of `clientIds` are taken (well-formed ones only; others cannot be). */
export async function existingClientIds(db: DbOrTx, clientIds: readonly string[]): Promise<Set<string>> {
  const wellFormed = clientIds.filter(isValidClientId);
  if (wellFormed.length === 0) return new Set();
  const rows = await db.select({ clientId: clients.clientId }).from(clients).where(inArray(clients.clientId, wellFormed));
  return new Set(rows.map((row) => row.clientId));
}
