import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import t, { type Test } from 'tap';
import { type Database, pgliteDatabase } from '../../src/db/connect.js';
import { applyMigrations, migrationsFolder } from '../../src/db/migrations.js';
import { cacheGeneration } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/prepare.js';
import { createTestDatabase, sleep, testConfig } from '../helpers.js';

const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

/** An empty database: a fresh one on the PostgreSQL server, or a new in-memory PGlite (no template). */
async function emptyDatabase(t: Test): Promise<Database> {
  if (onPostgres) return (await createTestDatabase(t)).database;
  const database = pgliteDatabase(new PGlite());
  t.teardown(() => database.close());
  return database;
}

async function rows<T>(database: Database, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await database.db.execute(query)) as unknown as { rows: T[] }).rows;
}

async function migrationRows(database: Database) {
  const found = await rows<{ hash: string; created_at: string | number }>(
    database,
    sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id`,
  );
  return found.map((row) => ({ hash: row.hash, created_at: Number(row.created_at) }));
}

async function advisoryLocks(database: Database): Promise<number> {
  // This database's only: on a shared PostgreSQL server, other test files hold locks of their own.
  const [row] = await rows<{ n: number }>(
    database,
    sql`SELECT count(*)::int AS n FROM pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return Number(row?.n);
}

t.test("the migrations are recorded as Drizzle's migrator records them, and either one sees the other's", async (t) => {
  const expected = readMigrationFiles({ migrationsFolder: migrationsFolder() }).map((m) => ({ hash: m.hash, created_at: m.folderMillis }));

  // On PGlite, createTestDatabase loads a template that this code migrated; on PostgreSQL
  // the database is empty and migrate() does it here.
  const { database: ours } = await createTestDatabase(t);
  await ours.migrate();
  t.strictSame(await migrationRows(ours), expected, 'one row per migration: sha256 of the file, the journal time');
  t.equal(await ours.exclusive('startup', applyMigrations), 0, 'applied again: nothing to do');

  // A database migrated by an earlier Portier, which used Drizzle's migrator.
  const theirs = await emptyDatabase(t);
  if (theirs.driver === 'pg') await migratePg(theirs.db as unknown as NodePgDatabase, { migrationsFolder: migrationsFolder() });
  else await migratePglite(theirs.db as unknown as PgliteDatabase, { migrationsFolder: migrationsFolder() });
  t.strictSame(await migrationRows(theirs), expected, "Drizzle's migrator writes the same rows");
  await prepareDatabase(theirs, testConfig());
  t.strictSame(await migrationRows(theirs), expected, 'and a start on that database applies nothing again');
});

t.test('exclusive: one at a time, in one transaction, and nothing left behind', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  const events: string[] = [];
  const work = (name: string) =>
    database.exclusive('startup', async (tx) => {
      events.push(`${name} in`);
      await tx.execute(sql`SELECT 1`);
      await sleep(100);
      events.push(`${name} out`);
      return name;
    });
  t.strictSame(await Promise.all([work('a'), work('b'), work('c')]), ['a', 'b', 'c'], 'each returns what its function returned');
  for (let i = 0; i < events.length; i += 2) {
    t.equal(events[i]?.replace(' in', ' out'), events[i + 1], `${events[i]} is followed by its own out: no overlap`);
  }
  if (database.driver === 'pg') t.equal(await advisoryLocks(database), 0, 'no advisory lock held afterwards');

  const failed = await database
    .exclusive('startup', async (tx) => {
      await tx.update(cacheGeneration).set({ generation: 12345 });
      throw new Error('halfway');
    })
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  t.match(failed, { message: 'halfway' }, 'an error comes out as it was thrown');
  const [row] = await database.db.select().from(cacheGeneration);
  t.not(row?.generation, 12345, 'and what it wrote is rolled back');
  t.equal(await database.exclusive('startup', async () => 'next'), 'next', 'the lock is free again');
});

t.test(
  'exclusive on PostgreSQL: another connection holding the lock makes it wait, not fail',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const { database } = await createTestDatabase(t);
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding: () => void = () => {};
    const taken = new Promise<void>((resolve) => (holding = resolve));
    const first = database.exclusive('startup', async () => {
      holding();
      await held;
    });
    await taken;
    t.equal(await advisoryLocks(database), 1, 'the first holds the lock');
    let secondRan = false;
    const second = database.exclusive('startup', async () => {
      secondRan = true;
    });
    await sleep(400);
    t.notOk(secondRan, 'the second waits while the first holds it');
    release();
    await Promise.all([first, second]);
    t.ok(secondRan, 'and runs once it is released');
    t.equal(await advisoryLocks(database), 0);
  },
);
