import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { type ExtractTablesWithRelations, sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.js';

/** The Drizzle handle every module uses; the same type for both drivers. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction or the database itself: functions that write take this so callers can compose them. */
export type DbOrTx = Db | PgTransaction<PgQueryResultHKT, typeof schema, ExtractTablesWithRelations<typeof schema>>;

export interface Database {
  db: Db;
  driver: 'pg' | 'pglite';
  /** Applies the SQL migrations in drizzle/. Safe to call from several processes at once. */
  migrate(): Promise<void>;
  /**
   * Runs `fn` while holding a cluster-wide lock, so start-up work (migrations, the first
   * signing key, the bootstrap admin) runs in one process at a time.
   */
  withStartupLock<T>(fn: () => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Any fixed number; identifies Portier's start-up lock among other applications' advisory locks. */
const STARTUP_LOCK_KEY = 0x706f7274; // "port"
/**
 * A second lock for the migrations alone, so that `migrate()` is safe on its own (`portier
 * migrate`) and also inside withStartupLock (a session-level advisory lock taken again from
 * another pooled connection would wait for itself). Always taken after the start-up lock.
 */
const MIGRATION_LOCK_KEY = STARTUP_LOCK_KEY + 1;

/** Connects to PostgreSQL when `databaseUrl` is set, otherwise opens PGlite in `dataDir` (or in memory). */
export async function connectDatabase(options: {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
}): Promise<Database> {
  return options.databaseUrl ? connectPostgres(options.databaseUrl) : connectPglite(options.dataDir);
}

function connectPostgres(databaseUrl: string): Database {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, idleTimeoutMillis: 30_000 });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  const db = drizzlePg(pool, { schema });
  const withAdvisoryLock = async <T>(key: number, fn: () => Promise<T>): Promise<T> => {
    const lockClient = await pool.connect();
    try {
      await lockClient.query('SELECT pg_advisory_lock($1)', [key]);
      return await fn();
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => {});
      lockClient.release();
    }
  };
  return {
    db,
    driver: 'pg',
    // Drizzle's migrator checks what is applied, then applies the rest: two processes doing
    // that at once on an empty database would both try to create the tables.
    migrate: () => withAdvisoryLock(MIGRATION_LOCK_KEY, () => migratePg(db, { migrationsFolder: migrationsFolder() })),
    withStartupLock: (fn) => withAdvisoryLock(STARTUP_LOCK_KEY, fn),
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}

async function connectPglite(dataDir: string | undefined): Promise<Database> {
  let releaseLock = () => {};
  if (dataDir !== undefined) {
    mkdirSync(dataDir, { recursive: true });
    releaseLock = lockDataDir(dataDir);
  }
  try {
    // On a new DATA_DIR, PGlite first runs initdb in a WASM instance of its own, and the
    // process keeps much of that memory: about 820 MB resident once ready, here. Closing
    // and opening the new cluster again lets part of it go (about 650 MB) for one more
    // second on the very first start; later starts on the same DATA_DIR sit near 370 MB.
    const isNew = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
    if (isNew) await (await PGlite.create(dataDir)).close();
    const client = await PGlite.create(dataDir);
    return pgliteDatabase(client, releaseLock);
  } catch (error) {
    releaseLock();
    throw error;
  }
}

/**
 * The Database over an open PGlite client; `onClose` runs after the client is closed.
 * connectDatabase uses it, and so do the tests, which open each database from a migrated
 * template (PGlite's `loadDataDir`) instead of paying initdb every time.
 */
export function pgliteDatabase(client: PGlite, onClose: () => void = () => {}): Database {
  const db = drizzlePglite(client, { schema });
  // PGlite lives inside this process: an in-process queue is lock enough (one for the
  // start-up, one for the migrations, which run inside the start-up lock too).
  const queued = () => {
    let queue: Promise<unknown> = Promise.resolve();
    return <T>(fn: () => Promise<T>): Promise<T> => {
      const run = queue.then(fn, fn);
      queue = run.catch(() => {});
      return run;
    };
  };
  const migrationQueue = queued();
  const startupQueue = queued();
  return {
    db,
    driver: 'pglite',
    migrate: () => migrationQueue(() => migratePglite(db, { migrationsFolder: migrationsFolder() })),
    withStartupLock: (fn) => startupQueue(fn),
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    async close() {
      if (client.closed) return;
      await client.close();
      onClose();
    },
  };
}

/**
 * PGlite is PostgreSQL inside this process: a second process opening the same DATA_DIR
 * (a second server, or the CLI while the server runs) would corrupt it. A lock file beside
 * the folder, holding the owner's pid, refuses that with a clear message; a lock left by a
 * process that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = `${resolve(dataDir)}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockPath, 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new Error(
          `DATA_DIR ${dataDir} is in use by process ${owner}; stop it first, or share a PostgreSQL database through DATABASE_URL`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`cannot lock DATA_DIR ${dataDir}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
