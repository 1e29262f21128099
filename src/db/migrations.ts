import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Db } from './connect.js';
import { migrationsFolder } from './connect.js';

/**
 * How many of the migrations in drizzle/ the database has not had yet, found by reading
 * only (Drizzle's migrator records each applied one in drizzle.__drizzle_migrations with
 * the time stamp of its journal entry, and applies those newer than the last recorded).
 * Commands that must not write anything use this instead of migrating.
 */
export async function pendingMigrations(db: Db): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder: migrationsFolder() });
  const [exists] = rowsOf<{ present: boolean }>(await db.execute(sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`));
  if (exists?.present !== true) return migrations.length;
  const [last] = rowsOf<{ created_at: string | number | null }>(await db.execute(sql`SELECT max(created_at) AS created_at FROM drizzle.__drizzle_migrations`));
  const applied = last?.created_at === null || last?.created_at === undefined ? 0 : Number(last.created_at);
  return migrations.filter((migration) => migration.folderMillis > applied).length;
}

/** The rows of a raw query's result: both drivers (pg and PGlite) answer with `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}
