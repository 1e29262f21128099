import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { DbOrTx } from './types.js';

/**
 * Applies the SQL migrations in drizzle/ that the database does not have yet, inside the
 * caller's transaction, and returns how many it applied.
 *
 * Drizzle's own migrator cannot be used here: it opens a transaction of its own and creates
 * its bookkeeping table outside it, so it cannot run inside the transaction that holds
 * the start-up lock (see Database.exclusive). This does what it does, with the same
 * bookkeeping — one row per migration in drizzle.__drizzle_migrations with the sha256 of
 * the file and the journal's `when` as created_at, and a migration counts as applied when
 * its `when` is not newer than the newest row — so databases migrated by either one keep
 * working with the other.
 *
 * It reads before it writes: when nothing is pending (every start but the first of a new
 * version) it only needs SELECT on drizzle.__drizzle_migrations, so instances can run as
 * a role that may not create anything (see "Production PostgreSQL" in docs/operations.md).
 */
export async function applyMigrations(tx: DbOrTx): Promise<number> {
  const { pending, newest } = await migrationState(tx);
  if (pending.length === 0) return 0;
  await assertMayMigrate(tx, pending.length);
  if (newest === undefined) {
    await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS drizzle`);
    await tx.execute(sql`
      CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (
        id SERIAL PRIMARY KEY,
        hash text NOT NULL,
        created_at bigint
      )
    `);
  }
  for (const migration of pending) {
    for (const statement of migration.sql) {
      if (statement.trim() !== '') await tx.execute(sql.raw(statement));
    }
    await tx.execute(
      sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`,
    );
  }
  return pending.length;
}

/** Migrations are pending but this role may not apply them. */
export class MigrationPrivilegeError extends Error {
  override name = 'MigrationPrivilegeError';
}

/**
 * Refuses before the first statement when the role cannot create in the public schema
 * (a least-privilege run-time role): the owner has to run `portier migrate` first, and
 * saying so beats whatever error the first statement of the migration would give.
 */
async function assertMayMigrate(tx: DbOrTx, pending: number): Promise<void> {
  const result = (await tx.execute(
    sql`SELECT current_user AS role, has_schema_privilege('public', 'CREATE') AS may_create`,
  )) as unknown as { rows: Array<{ role: string; may_create: boolean }> };
  const row = result.rows[0];
  if (row === undefined || row.may_create) return;
  throw new MigrationPrivilegeError(
    `${pending} database migration(s) pending, and role ${row.role} may not apply them (permission denied for schema public): ` +
      'run `portier migrate` with the owner role first',
  );
}

/**
 * How many migrations the database lacks, found by reading only: commands that must write
 * nothing (the CLI's) use this instead of migrating.
 */
export async function pendingMigrations(db: DbOrTx): Promise<number> {
  return (await migrationState(db)).pending.length;
}

async function migrationState(db: DbOrTx) {
  const migrations = readMigrationFiles({ migrationsFolder: migrationsFolder() });
  const newest = await newestAppliedMigration(db);
  return { newest, pending: migrations.filter((migration) => newest === undefined || newest < migration.folderMillis) };
}

/**
 * The created_at of the newest recorded migration (as Drizzle's migrator reads it: the
 * first row by created_at descending), or undefined when none is recorded or the table
 * does not exist yet.
 */
async function newestAppliedMigration(tx: DbOrTx): Promise<number | undefined> {
  const table = (await tx.execute(sql`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS present`)) as unknown as {
    rows: Array<{ present: boolean }>;
  };
  if (table.rows[0]?.present !== true) return undefined;
  const newest = (await tx.execute(
    sql`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`,
  )) as unknown as { rows: Array<{ created_at: string | number | null }> };
  const row = newest.rows[0];
  return row === undefined ? undefined : Number(row.created_at);
}

/** drizzle/ at the package root, found from this file whether it runs from src/ or dist/src/. */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the drizzle/ migrations folder');
    dir = parent;
  }
}
