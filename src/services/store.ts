import type { DbOrTx } from '../db/connect.js';
import { services } from '../db/schema.js';

/**
 * The service catalogue's table, queried here (services.ts still holds the queries of its
 * create, update and delete, to move here with them).
 */

/** Every scope some service offers, each once, sorted: what discovery lists as scopes_supported. */
export async function offeredScopes(db: DbOrTx): Promise<string[]> {
  const rows = await db.select({ scopes: services.scopes }).from(services);
  return [...new Set(rows.flatMap((row) => row.scopes))].sort();
}
