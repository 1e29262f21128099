import { and, asc, eq, exists, gt, ilike, inArray, isNotNull, isNull, lt, lte, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { clientGrants, clients } from '../db/schema.js';
import { ValidationError } from '../lib/errors.js';
import { parseTimestamp } from '../lib/time.js';
import type { ClientFilters, ClientPage, ClientResource } from '../schemas/clients.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';
import { CLIENT_RESOURCE_RELATIONS, toClientResource } from './clients.js';
import { isValidClientId } from './rules.js';
import { ALL_CLIENTS, type ClientScope } from './scope.js';

export const DEFAULT_PAGE_SIZE = 50;

/**
 * Keyset pagination on client_id, which is unique and never changes: a page starts after
 * the last client_id of the previous one, so no row is seen twice or skipped however many
 * clients are added or deleted between pages. The cursor is opaque to callers.
 */
export function encodeCursor(lastClientId: string): string {
  return Buffer.from(JSON.stringify({ after: lastClientId })).toString('base64url');
}

/** The client_id a cursor continues after. Only a client_id can be in one this server issued. */
function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'after' in parsed &&
      typeof parsed.after === 'string' &&
      isValidClientId(parsed.after)
    ) {
      return parsed.after;
    }
  } catch {
    // fall through to the error below
  }
  throw new ValidationError([{ path: '/cursor', message: 'is not a cursor this server issued' }]);
}

function parseDate(value: string, path: string): Date {
  const date = parseTimestamp(value);
  if (date === undefined) throw new ValidationError([{ path, message: 'must be an RFC 3339 date-time in the years 1 to 9999' }]);
  return date;
}

/** Escapes LIKE wildcards so a name filter is a plain substring match. */
function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
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
 * One page of clients matching every given filter, with their grants and ranges, in one
 * query. Under an owner's scope the owner is a condition of its own, beside the filters:
 * an `owner` filter can narrow the page (to nothing), never widen it.
 */
export async function listClients(
  db: DbOrTx,
  filters: ClientFilters,
  page: { limit?: number | undefined; cursor?: string | undefined } = {},
  at: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<ClientPage> {
  const limit = Math.min(Math.max(page.limit ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
  const now = new Date(at);
  const conditions: Array<SQL | undefined> = [];
  if (scope.kind === 'owner') conditions.push(eq(clients.owner, scope.owner));
  if (page.cursor !== undefined) conditions.push(gt(clients.clientId, decodeCursor(page.cursor)));
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

  const rows = await db.query.clients.findMany({
    where: and(...conditions),
    with: CLIENT_RESOURCE_RELATIONS,
    orderBy: asc(clients.clientId),
    limit: limit + 1,
  });
  const items = rows.slice(0, limit).map((row) => toClientResource(row, now.getTime()));
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(last.client_id) : null };
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
