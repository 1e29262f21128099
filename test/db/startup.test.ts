import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { asc, eq, sql } from 'drizzle-orm';
import t from 'tap';
import type { Database } from '../../src/db/connect.js';
import { services, signingKeys } from '../../src/db/schema.js';
import { ensureActiveKey, loadKeySet } from '../../src/keys/signing-keys.js';
import { prepareDatabase } from '../../src/prepare.js';
import { createTestDatabase, ISSUER, testConfig } from '../helpers.js';

// Start-up on one database: several instances (in process and as real processes) at once
// on an empty database end with the migrations applied once and one active signing key.
// Signing keys at start are in test/keys/startup-keys.test.ts, the bootstrap admin in
// test/clients/bootstrap.test.ts.

const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';
const ADMIN_AUDIENCE = `${ISSUER}/admin`;
const FIXTURE = fileURLToPath(new URL('../fixtures/start-race.ts', import.meta.url));
const PROJECT_ROOT = dirname(dirname(dirname(FIXTURE)));

async function keyRows(database: Database) {
  return database.db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
}

async function activeKeys(database: Database) {
  return database.db.select().from(signingKeys).where(eq(signingKeys.status, 'active'));
}

// Several instances starting at once on one empty database

interface ChildOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `count` processes running test/fixtures/start-race.ts on the same database, waits
 * until each has connected, then tells them all to go at once.
 */
async function raceProcesses(
  count: number,
  mode: 'prepare' | 'migrate',
  databaseUrl: string,
  signingAlg = 'ES256',
): Promise<ChildOutcome[]> {
  const children: Array<ChildProcessByStdio<Writable, Readable, Readable>> = [];
  const outcomes: Array<Promise<ChildOutcome>> = [];
  const readies: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, databaseUrl, signingAlg], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    readies.push(
      new Promise<void>((resolve, reject) => {
        markReady = resolve;
        markFailed = reject;
      }),
    );
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('ready\n')) markReady();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    outcomes.push(
      new Promise<ChildOutcome>((resolve) => {
        child.on('close', (code) => {
          markFailed(new Error(`child exited (${code}) before it was ready: ${stderr}`));
          resolve({ code, stdout, stderr });
        });
      }),
    );
  }
  try {
    await Promise.all(readies);
  } catch (error) {
    for (const child of children) child.kill();
    throw error;
  }
  for (const child of children) child.stdin.end('go\n');
  return Promise.all(outcomes);
}

async function appliedMigrations(database: Database): Promise<number> {
  const result = (await database.db.execute(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)) as unknown as {
    rows: Array<{ n: number }>;
  };
  return Number(result.rows[0]?.n);
}

t.test('two prepareDatabase calls at once on an empty database end with one active key (in process)', async (t) => {
  const { database } = await createTestDatabase(t);
  const config = testConfig();
  await Promise.all([prepareDatabase(database, config), prepareDatabase(database, config)]);
  const rows = await keyRows(database);
  t.equal(rows.length, 1, 'one signing key');
  t.equal(rows[0]?.status, 'active');
  t.equal(rows[0]?.alg, 'ES256');
  const [admin] = await database.db.select().from(services).where(eq(services.id, 'portier-admin'));
  t.equal(admin?.audience, ADMIN_AUDIENCE, 'the built-in admin service exists');
  const keySet = await loadKeySet(database.db, undefined, new Date());
  t.equal(keySet.active.kid, rows[0]?.kid);
});

t.test('concurrent migrate() calls, then concurrent ensureActiveKey calls, on one empty database (in process)', async (t) => {
  const { database } = await createTestDatabase(t);
  const migrations = await Promise.allSettled([database.migrate(), database.migrate(), database.migrate()]);
  for (const result of migrations) {
    t.equal(result.status, 'fulfilled', result.status === 'rejected' ? String(result.reason) : 'migrated');
  }
  t.equal(await appliedMigrations(database), await expectedMigrationCount(), 'each migration applied once');

  // Outside the start-up lock: the partial unique index alone must keep it to one key.
  const inserts = await Promise.allSettled(
    Array.from({ length: 4 }, () => ensureActiveKey(database.db, 'ES256', undefined, 360, new Date())),
  );
  t.strictSame(
    inserts.map((result) => result.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    'the losers of the insert race do not fail',
  );
  const rows = await keyRows(database);
  t.equal(rows.length, 1, 'exactly one insert went through');
  t.equal(rows[0]?.status, 'active');
});

async function expectedMigrationCount(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const journal = JSON.parse(await readFile(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

t.test(
  'two processes starting at once on one empty PostgreSQL database',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    // A race either shows up or not on a given run; two fresh databases make a lost race more likely to be seen.
    for (let round = 1; round <= 2; round++) {
      await t.test(`round ${round}`, async (t) => {
        const { database, databaseUrl } = await createTestDatabase(t);
        if (databaseUrl === undefined) throw new Error('expected a PostgreSQL database');
        const outcomes = await raceProcesses(2, 'prepare', databaseUrl);
        for (const [i, outcome] of outcomes.entries()) {
          t.equal(outcome.code, 0, `process ${i + 1} started cleanly${outcome.stderr ? `: ${outcome.stderr}` : ''}`);
          t.match(outcome.stdout, /done/);
        }
        const rows = await keyRows(database);
        t.equal(rows.length, 1, 'one signing key');
        t.equal(rows.filter((row) => row.status === 'active').length, 1, 'exactly one active key');
        t.equal(await appliedMigrations(database), await expectedMigrationCount(), 'each migration applied once');
      });
    }
  },
);

t.test(
  'two processes running the migrations at once on one empty PostgreSQL database',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    // `portier migrate` runs the migrations without the rest of the start-up; two of them
    // (or one and a starting server) on a fresh database must both succeed.
    for (let round = 1; round <= 2; round++) {
      await t.test(`round ${round}`, async (t) => {
        const { database, databaseUrl } = await createTestDatabase(t);
        if (databaseUrl === undefined) throw new Error('expected a PostgreSQL database');
        const outcomes = await raceProcesses(2, 'migrate', databaseUrl);
        for (const [i, outcome] of outcomes.entries()) {
          t.equal(outcome.code, 0, `process ${i + 1} migrated cleanly${outcome.stderr ? `: ${outcome.stderr}` : ''}`);
        }
        t.equal(await appliedMigrations(database), await expectedMigrationCount(), 'each migration applied once');
        const tables = await database.db.select().from(signingKeys);
        t.strictSame(tables, [], 'the schema is there');
      });
    }
  },
);

t.test(
  'a migrating process and a starting process at once on one empty PostgreSQL database',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const { database, databaseUrl } = await createTestDatabase(t);
    if (databaseUrl === undefined) throw new Error('expected a PostgreSQL database');
    const [migrator, server] = await Promise.all([raceProcesses(1, 'migrate', databaseUrl), raceProcesses(1, 'prepare', databaseUrl)]);
    t.equal(migrator?.[0]?.code, 0, `the migration succeeded${migrator?.[0]?.stderr ? `: ${migrator[0].stderr}` : ''}`);
    t.equal(server?.[0]?.code, 0, `the start succeeded${server?.[0]?.stderr ? `: ${server[0].stderr}` : ''}`);
    t.equal(await appliedMigrations(database), await expectedMigrationCount(), 'each migration applied once');
    t.equal((await activeKeys(database)).length, 1);
  },
);
