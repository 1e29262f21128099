import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { DATABASE_DEFAULTS } from '../config.js';
import { applyMigrations } from './migrations.js';
import { GuardedPool } from './pool.js';
import * as schema from './schema.js';
import type { Db, Tx } from './types.js';

export type { Db, DbOrTx, Tx } from './types.js';

/**
 * The names of Portier's cluster-wide locks. `startup`: migrations, the cache generation
 * row, the built-in admin service, the first signing key and the bootstrap admin. `keys`:
 * changes of the signing keys' states (rotation, promotion of the next key, re-sealing),
 * so that each happens once however many instances notice it is due. `config`: a
 * configuration apply, so that two applies take turns. `retention`: a batch of the
 * retention pruning, so that one instance at a time prunes.
 */
export type LockName = 'startup' | 'keys' | 'config' | 'retention';

export interface Database {
  db: Db;
  driver: 'pg' | 'pglite';
  /** Applies the SQL migrations in drizzle/, under the start-up lock. Safe from several processes at once. */
  migrate(): Promise<void>;
  /**
   * Runs `fn` in one transaction that holds the lock `name`: on PostgreSQL a
   * transaction-scoped advisory lock, so several processes (instances, the CLI) on one
   * database take turns, and the lock goes with the transaction (commit, rollback, or a
   * lost connection). Nothing of it outlives the transaction, so it works the same behind
   * a pooler in transaction mode, where consecutive statements outside a transaction may
   * run on different server connections. `fn` must do all its work through `tx`: on
   * PGlite the open transaction holds up every other query of the process.
   */
  exclusive<T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Like `exclusive`, but does not wait: when another transaction (of this process or
   * another) holds the lock, resolves with undefined without running `fn`.
   */
  tryExclusive<T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<{ value: T } | undefined>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How to reach PostgreSQL: DATABASE_URL and the DATABASE_* settings (see Config). */
export interface PostgresOptions {
  databaseUrl: string;
  /** Connections this process may open (pg.Pool `max`). */
  databasePoolSize?: number | undefined;
  /** Milliseconds to open a connection or to wait for a free one. */
  databaseConnectTimeout?: number | undefined;
  /** Milliseconds to wait for a query's answer; 0: no limit. */
  databaseStatementTimeout?: number | undefined;
  /** PEM certificates to trust for the server's TLS certificate (DATABASE_CA_FILE). */
  databaseCa?: { file: string; pem: string } | undefined;
}

/**
 * Portier's advisory locks are the two-key form (namespace, lock): this first key, "port"
 * in ASCII, keeps them apart from other applications' locks on the same database.
 */
const LOCK_NAMESPACE = 0x706f7274;

/** The second key of the lock `name`: a stable 32-bit number derived from it. */
function lockKey(name: LockName): number {
  return createHash('sha256').update(`portier:${name}`).digest().readInt32BE(0);
}

/** Connects to PostgreSQL when `databaseUrl` is set, otherwise opens PGlite in `dataDir` (or in memory). */
export async function connectDatabase(
  options: Partial<Omit<PostgresOptions, 'databaseUrl'>> & { databaseUrl?: string | undefined; dataDir?: string | undefined },
): Promise<Database> {
  const { databaseUrl } = options;
  return databaseUrl ? connectPostgres({ ...options, databaseUrl }) : connectPglite(options.dataDir);
}

/**
 * The pg.Pool settings for these options. DATABASE_URL is read as node-postgres reads it
 * (pg-connection-string), and the CA of DATABASE_CA_FILE is added to its TLS settings:
 * pg lets a connection string override a separate `ssl` option, so the two have to be
 * merged here rather than passed side by side.
 */
export function postgresPoolConfig(options: PostgresOptions): pg.PoolConfig {
  const fromUrl = parseIntoClientConfig(options.databaseUrl);
  let ssl = fromUrl.ssl;
  if (options.databaseCa !== undefined) {
    // Verification on, against this CA (and host name checks, as for sslmode=verify-full);
    // loadConfig has already refused sslmode=disable and no-verify with a CA file.
    ssl = { ...(typeof ssl === 'object' ? ssl : {}), ca: options.databaseCa.pem, rejectUnauthorized: true };
  }
  const statementTimeout = options.databaseStatementTimeout ?? DATABASE_DEFAULTS.statementTimeout;
  return {
    ...fromUrl,
    ssl,
    // Shows in pg_stat_activity (and PgBouncer's SHOW CLIENTS) unless the URL names another.
    application_name: fromUrl.application_name ?? 'portier',
    max: options.databasePoolSize ?? DATABASE_DEFAULTS.poolSize,
    // Covers both opening a connection and waiting for a free one when all `max` are busy.
    connectionTimeoutMillis: options.databaseConnectTimeout ?? DATABASE_DEFAULTS.connectTimeout,
    // Measured on the client, so it also ends the wait for a database that no longer
    // answers at all, and it needs no session setting: PgBouncer 1.18 refuses the
    // statement_timeout and options startup parameters, and a SET would stay on whichever
    // server connection ran it. (undefined: pg's default, no limit.)
    query_timeout: statementTimeout > 0 ? statementTimeout : undefined,
    idleTimeoutMillis: 30_000,
    // Lets the operating system notice a connection whose peer has gone away.
    keepAlive: true,
  };
}

function connectPostgres(options: PostgresOptions): Database {
  // Checked-out clients are guarded too: see GuardedPool.
  const pool = new GuardedPool(postgresPoolConfig(options));
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  const db: Db = drizzlePg(pool, { schema });
  const tryExclusive = <T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<{ value: T } | undefined> =>
    db.transaction(async (tx) => {
      const attempt = (await tx.execute(
        sql`SELECT pg_try_advisory_xact_lock(${LOCK_NAMESPACE}, ${lockKey(name)}) AS locked`,
      )) as unknown as {
        rows: Array<{ locked: boolean }>;
      };
      if (attempt.rows[0]?.locked !== true) return undefined;
      return { value: await fn(tx) };
    });
  const exclusive = async <T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<T> => {
    // Try the lock and, if another process holds it, end the transaction and try again
    // shortly: a blocking pg_advisory_xact_lock would be cut off by the statement
    // timeout when the holder takes longer (a long migration), and would keep a server
    // connection busy all that time, which matters behind a pooler.
    for (;;) {
      const outcome = await tryExclusive(name, fn);
      if (outcome !== undefined) return outcome.value;
      await sleep(50 + Math.random() * 100);
    }
  };
  return databaseOf(db, 'pg', { exclusive, tryExclusive }, async () => {
    if (!pool.ended) await pool.end();
  });
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
  const db: Db = drizzlePglite(client, { schema });
  // PGlite lives inside this process: an in-process queue per lock name is lock enough.
  const queues = new Map<LockName, Promise<unknown>>();
  /** How many transactions hold or wait for each lock. */
  const holders = new Map<LockName, number>();
  const exclusive = <T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<T> => {
    const work = () => db.transaction(fn);
    const run = (queues.get(name) ?? Promise.resolve()).then(work, work);
    holders.set(name, (holders.get(name) ?? 0) + 1);
    queues.set(
      name,
      run.catch(() => {}).finally(() => holders.set(name, (holders.get(name) ?? 1) - 1)),
    );
    return run;
  };
  const tryExclusive = async <T>(name: LockName, fn: (tx: Tx) => Promise<T>): Promise<{ value: T } | undefined> =>
    (holders.get(name) ?? 0) > 0 ? undefined : { value: await exclusive(name, fn) };
  return databaseOf(db, 'pglite', { exclusive, tryExclusive }, async () => {
    if (client.closed) return;
    await client.close();
    onClose();
  });
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

/** What both drivers' databases are made of: the locks differ, migrating and pinging do not. */
function databaseOf(
  db: Db,
  driver: Database['driver'],
  locks: Pick<Database, 'exclusive' | 'tryExclusive'>,
  close: () => Promise<void>,
): Database {
  return {
    db,
    driver,
    migrate: () => locks.exclusive('startup', async (tx) => void (await applyMigrations(tx))),
    ...locks,
    async ping() {
      await db.execute(sql`SELECT 1`);
    },
    close,
  };
}
