import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Logger } from 'pino';
import tap from 'tap';
import { buildApp } from '../src/app.js';
import type { Actor } from '../src/audit/events.js';
import { main as cliMain } from '../src/cli/main.js';
import { createClient } from '../src/clients/clients.js';
import { type Config, loadConfig, type ProtectionConfig } from '../src/config.js';
import { connectDatabase, type Database, pgliteDatabase } from '../src/db/connect.js';
import { createLogger } from '../src/logger.js';
import { prepareDatabase } from '../src/prepare.js';
import type { CreateClientInput } from '../src/schemas/clients.js';

/** The subset of tap's Test that helpers use, so they work with any test object. */
export interface TestLike {
  teardown(fn: () => unknown): void;
}

export const ISSUER = 'http://portier.test';

/** Who the audit trail names for changes a test makes through the plain functions. */
export const CLI_ACTOR: Actor = { clientId: 'cli', sub: null };

/** Credential settings for tests that call the client functions directly (as a configuration with no lifetime limit gives). */
export const CREDENTIAL_SETTINGS = { maxPerClient: 5, secretPrefix: 'portier' } as const;

/** A Config as loadConfig would return it, with test-friendly defaults and overrides. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({ ISSUER, LOG_LEVEL: 'silent' }), ...overrides };
}

/**
 * Failure budgets a test cannot reach: for tests of what refusals look like, and as the
 * base that throttling tests (test/oauth/abuse.test.ts) narrow to the one budget they test.
 */
export function openBudgets(overrides: Partial<ProtectionConfig> = {}): ProtectionConfig {
  return {
    ...testConfig().protection,
    failuresPerClientAndAddress: 1000,
    failuresPerAddress: 1000,
    failureBurstPerAddress: 1000,
    ...overrides,
  };
}

/**
 * A fresh, empty (migrated) database for one test: on PGlite, an in-memory instance; when
 * DATABASE_URL is set, a new database created on that server (dropped again at teardown).
 * Each test gets a database of its own, so test files run in parallel without sharing
 * state.
 *
 * Starting a PGlite instance takes a second or more of CPU (the WASM PostgreSQL boots
 * and loads its data directory), most of a small test's time; so on PGlite an instance a
 * test is done with is emptied (every table truncated) and handed to the next test of the
 * same process (unless the test closed it). `fresh: true` asks for an instance nobody used
 * before and nobody will use after.
 */
export async function createTestDatabase(
  t: TestLike,
  options: { fresh?: boolean; migrated?: boolean } = {},
): Promise<{ database: Database; databaseUrl: string | undefined }> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined || serverUrl === '') {
    if (options.fresh === true) {
      const database = pgliteDatabase(await newPglite());
      t.teardown(() => database.close());
      return { database, databaseUrl: undefined };
    }
    const client = idlePglites.pop() ?? (await newPglite());
    // A test that closes its database closes it for good; otherwise it is recycled.
    t.teardown(() => recycle(client));
    return { database: pgliteDatabase(client), databaseUrl: undefined };
  }
  const migrated = options.migrated === true;
  // `migrated`: an emptied database a test of this process is done with, or a copy of a
  // database migrated once (about a third of migrating each one).
  const name = (migrated ? idlePostgres.pop() : undefined) ?? (await newPostgresDatabase(serverUrl, migrated));
  const databaseUrl = postgresUrl(serverUrl, name);
  const database = await connectDatabase({ databaseUrl });
  t.teardown(async () => {
    await database.close().catch(() => {});
    if (migrated && (await recyclePostgres(databaseUrl))) idlePostgres.push(name);
    else await dropPostgresDatabase(serverUrl, name);
  });
  return { database, databaseUrl };
}

/**
 * On PostgreSQL, migrated databases a finished test left, emptied, for the next test of this
 * process, as PGlite instances are: DROP DATABASE forces a checkpoint of the whole server
 * (PostgreSQL 15), which costs more than most tests, and stalls every other test of the
 * server while it runs. The process drops them when its last test is done.
 */
const idlePostgres: string[] = [];
tap.teardown(async () => {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl === undefined || serverUrl === '') return;
  for (const name of idlePostgres.splice(0)) await dropPostgresDatabase(serverUrl, name).catch(() => {});
});

/** The schema of a migrated database before any test: read off the first one this process makes. */
let pristinePostgresSchema: Promise<string> | undefined;

async function newPostgresDatabase(serverUrl: string, migrated: boolean): Promise<string> {
  const name = `portier_test_${randomBytes(6).toString('hex')}`;
  const template = migrated ? await migratedPostgresTemplate(serverUrl) : undefined;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(template === undefined ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${template}`);
    // A commit need not wait for its WAL to reach the disk: a test database outlives no crash
    // of the server, and tests commit often. For every connection, PgBouncer's too.
    await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
  } finally {
    await admin.end();
  }
  if (migrated) pristinePostgresSchema ??= withPostgres(postgresUrl(serverUrl, name), (client) => schemaSignature(client));
  await pristinePostgresSchema;
  return name;
}

function postgresUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withPostgres<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function dropPostgresDatabase(serverUrl: string, name: string): Promise<void> {
  await withPostgres(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/**
 * Empties a PostgreSQL test database for the next test, as `recycle` does a PGlite: what is
 * still connected (a process the test started and killed) is disconnected, as DROP … WITH
 * (FORCE) would, every table truncated. False when that fails or the test changed the schema:
 * the database is dropped instead.
 */
async function recyclePostgres(url: string): Promise<boolean> {
  try {
    return await withPostgres(url, async (client) => {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      await client.query("SET lock_timeout = '5s'");
      const { rows } = await client.query<{ name: string }>(
        "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'",
      );
      await client.query(`TRUNCATE ${rows.map((row) => row.name).join(', ')} RESTART IDENTITY CASCADE`);
      return (await schemaSignature(client)) === (await pristinePostgresSchema);
    });
  } catch {
    return false;
  }
}

/** PGlite instances a finished test left, emptied, for the next test of this process. */
const idlePglites: PGlite[] = [];
const recycled = new WeakSet<PGlite>();
// They hold the process open: close them when the file's last test is done.
tap.teardown(async () => {
  await Promise.all(idlePglites.splice(0).map((client) => client.close().catch(() => {})));
});

/** The schema every pooled instance must still have: read off the first one, before any test. */
let pristineSchema: Promise<string> | undefined;

async function newPglite(): Promise<PGlite> {
  const client = new PGlite({ loadDataDir: await migratedPgliteTemplate() });
  pristineSchema ??= schemaSignature(client);
  await pristineSchema;
  return client;
}

/**
 * A digest of the tables, columns, constraints, indexes, triggers and privileges of the
 * schema `public`: a test that changed any of them leaves a database no other test gets.
 */
async function schemaSignature(client: { query<Row extends object>(text: string): Promise<{ rows: Row[] }> }): Promise<string> {
  const { rows } = await client.query<{ signature: string }>(`
    SELECT md5(string_agg(item, ',' ORDER BY item)) AS signature FROM (
      SELECT conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid) AS item
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      UNION ALL SELECT table_name || '.' || column_name || ':' || data_type
        FROM information_schema.columns WHERE table_schema = 'public'
      UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
      UNION ALL SELECT tgrelid::regclass::text || ':' || tgname || ':' || tgenabled::text
        FROM pg_trigger WHERE NOT tgisinternal
      UNION ALL SELECT relname || ':' || coalesce(relacl::text, '')
        FROM pg_class WHERE relnamespace = 'public'::regnamespace
    ) AS schema`);
  return rows[0]?.signature ?? '';
}

/**
 * Empties a PGlite instance for the next test: every table of the schema truncated and
 * its sequences restarted; the migrations' own bookkeeping (schema `drizzle`) stays. An
 * instance that cannot be emptied (closed, or left mid-transaction), or whose schema a
 * test changed, is closed instead.
 */
async function recycle(client: PGlite): Promise<void> {
  if (client.closed || recycled.has(client)) return;
  recycled.add(client);
  try {
    const { rows } = await client.query<{ name: string }>(
      "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'",
    );
    await client.exec(`TRUNCATE ${rows.map((row) => row.name).join(', ')} RESTART IDENTITY CASCADE`);
    if ((await schemaSignature(client)) !== (await pristineSchema)) throw new Error('the schema was changed');
    recycled.delete(client);
    idlePglites.push(client);
  } catch {
    await client.close().catch(() => {});
  }
}

/**
 * A DATA_DIR (removed at teardown) that already holds a migrated cluster, for tests of the
 * embedded mode that are not about its very first start: unpacking the template takes a
 * fraction of the seconds initdb would.
 */
export async function seededDataDir(t: TestLike): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portier-data-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const client = new PGlite(dataDir, { loadDataDir: await migratedPgliteTemplate() });
  await client.waitReady;
  await client.close();
  return dataDir;
}

let pgliteTemplate: Promise<Blob> | undefined;

/**
 * A dump of a PGlite with every migration applied: a new PGlite would run initdb, which
 * takes several seconds here. It is made once per machine for each set of migrations and
 * PGlite version, kept in the system's temporary folder, and read by every test process.
 * Each test still gets an instance of its own, and prepareDatabase still runs the (then
 * empty) migration step through the production code.
 */
function migratedPgliteTemplate(): Promise<Blob> {
  pgliteTemplate ??= (async () => {
    const file = join(tmpdir(), `portier-test-pglite-${templateKey()}.tar`);
    if (existsSync(file)) return new Blob([readFileSync(file)]);
    const client = new PGlite();
    const database = pgliteDatabase(client);
    await database.migrate();
    const dump = await client.dumpDataDir('none');
    await database.close();
    // Written aside, then renamed: a process reading it never sees half a file.
    const partial = `${file}.${process.pid}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
    return dump;
  })();
  return pgliteTemplate;
}

/**
 * On PostgreSQL, the name of a database migrated to the current migrations, made once per
 * server (by whichever test process gets there first, under an advisory lock) and kept:
 * its name carries the migrations' digest, so changed migrations make a new one. New test
 * databases are copied from it (CREATE DATABASE … TEMPLATE), which needs it to have no
 * connection: the one that migrated it is closed before the lock is released.
 */
let postgresTemplate: Promise<string> | undefined;
function migratedPostgresTemplate(serverUrl: string): Promise<string> {
  postgresTemplate ??= (async () => {
    const name = `portier_template_${templateKey()}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount === 0) {
        // Built under another name and renamed when complete: a process killed half-way
        // leaves no template that looks ready.
        const building = `${name}_${randomBytes(4).toString('hex')}`;
        await admin.query(`CREATE DATABASE ${building}`);
        const url = new URL(serverUrl);
        url.pathname = `/${building}`;
        const database = await connectDatabase({ databaseUrl: url.toString() });
        try {
          await database.migrate();
        } finally {
          await database.close();
        }
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      }
      return name;
    } finally {
      await admin.end();
    }
  })();
  return postgresTemplate;
}

/** Names the template after what it is made of: the migration files and the PGlite version. */
function templateKey(): string {
  const hash = createHash('sha256');
  const folder = fileURLToPath(new URL('../drizzle/', import.meta.url));
  for (const name of readdirSync(folder, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(folder, name);
    if (statSync(path).isFile()) hash.update(name).update(readFileSync(path));
  }
  const pglite = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url)), 'utf8'),
  ) as { version: string };
  return hash.update(pglite.version).digest('hex').slice(0, 16);
}

/** Collects log lines, so a test can check what was (and was not) logged. */
export function captureLogs(level = 'info'): { logger: Logger; text(): string; lines(): Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return {
    logger: createLogger(level, stream),
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * The reasons of the requests refused in `logs`, in the order first logged, a refusal
 * repeated within a second (logged once, then counted in a closing line) as often as it
 * happened. Waits out that second first.
 */
export async function refusalReasons(logs: { lines(): Array<Record<string, unknown>> }): Promise<string[]> {
  await sleep(1100);
  return logs
    .lines()
    .filter((line) => line.msg === 'request refused' || line.msg === 'request refused (repeated)')
    .flatMap((line) => Array<string>(typeof line.repeated === 'number' ? line.repeated : 1).fill(String(line.reason)));
}

export interface TestServer {
  app: FastifyInstance;
  database: Database;
  databaseUrl: string | undefined;
  config: Config;
  /** The server's clock: real time, until a test moves it forward. */
  clock: TestClock;
}

export interface TestClock {
  now(): number;
  /** Moves this server's time forward, as if `ms` had passed. */
  advance(ms: number): void;
  /** Stops this server's time where it is (advance still moves it): answers computed from it repeat exactly. */
  freeze(): void;
}

/** Real time (or the moment it was frozen) plus however far the test has moved it forward. */
export function testClock(): TestClock {
  let ahead = 0;
  let frozenAt: number | undefined;
  return {
    now: () => (frozenAt ?? Date.now()) + ahead,
    advance: (ms) => {
      ahead += ms;
    },
    freeze: () => {
      frozenAt = Date.now();
    },
  };
}

/**
 * A prepared database and a Portier built on it, closed at teardown. Use `app.inject()`
 * for HTTP-level tests, or `app.listen({ port: 0 })` when the test is about sockets.
 */
export async function build(
  t: TestLike,
  options: { config?: Partial<Config>; logger?: Logger; database?: Database } = {},
): Promise<TestServer> {
  const config = testConfig(options.config);
  const { database, databaseUrl } = options.database
    ? { database: options.database, databaseUrl: undefined }
    : await createTestDatabase(t, { migrated: true });
  await prepareDatabase(database, config);
  const clock = testClock();
  const app = await buildApp({ config, database, logger: options.logger ?? createLogger('silent'), clock: clock.now });
  await app.ready();
  t.teardown(() => app.close());
  return { app, database, databaseUrl, config, clock };
}

/** A service in the catalogue, written straight to the database. */
export async function addService(
  database: Database,
  service: { id: string; audience: string; scopes: string[]; name?: string },
): Promise<void> {
  const { services } = await import('../src/db/schema.js');
  await database.db.insert(services).values({ name: service.id, ...service });
}

/** Creates a client through the same function the admin API and CLI use. */
export async function addClient(
  server: TestServer,
  // Keys as jose exports them (the schema's narrower JWK type is checked at run time).
  input: Partial<Omit<CreateClientInput, 'jwks'>> & { jwks?: { keys: object[] } | null } = {},
): Promise<{ clientId: string; clientSecret: string; uuid: string }> {
  const { client, clientSecret } = await createClient(
    server.database.db,
    { name: 'Test client', owner: 'user-1', ...input } as CreateClientInput,
    CLI_ACTOR,
    { now: Date.now() },
  );
  // The test's server must see the new client at once, as it would after an admin change.
  server.app.portier.generation.changed();
  return { clientId: client.client_id, clientSecret: clientSecret ?? '', uuid: client.service_account.id };
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ':', base64. */
export function basicAuth(clientId: string, clientSecret: string): string {
  const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

/** POSTs a form to the token endpoint through inject(). */
export function postToken(app: FastifyInstance, form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: body.toString(),
  });
}

export const ADMIN_ID = 'root-admin';
export const ADMIN_SECRET = 'root-admin-secret-0123456789';

/**
 * A server with a bootstrap admin, and a function that gets admin tokens: `admin:write`
 * by default, or the scope asked for.
 */
export async function buildWithAdmin(t: TestLike, options: Parameters<typeof build>[1] = {}) {
  const server = await build(t, {
    ...options,
    config: { ...options.config, bootstrapAdmin: { clientId: ADMIN_ID, clientSecret: ADMIN_SECRET } },
  });
  const tokenFor = async (scope = 'admin:write', clientId = ADMIN_ID, clientSecret = ADMIN_SECRET): Promise<string> => {
    const res = await postToken(
      server.app,
      { grant_type: 'client_credentials', scope, resource: `${server.config.issuer}/admin` },
      {
        authorization: basicAuth(clientId, clientSecret),
      },
    );
    if (res.statusCode !== 200) throw new Error(`admin token request failed: ${res.statusCode} ${res.body}`);
    return (res.json() as { access_token: string }).access_token;
  };
  const token = await tokenFor();
  /**
   * inject() with the admin token and `json`, a JSON body as it is written: for one that
   * JSON.stringify cannot make (a lone surrogate, a __proto__ member).
   */
  const adminJson = (method: 'POST' | 'PATCH', url: string, json: string, bearer = token) =>
    server.app.inject({ method, url, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, payload: json });
  /** inject() with the admin token; `payload` is sent as JSON. */
  const admin = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, bearer = token) =>
    server.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${bearer}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  return { ...server, token, tokenFor, admin, adminJson };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Repeats `probe` every 50 ms until `check` holds or `limitMs` passes, and returns the last
 * answer: the bound on how long something may take, for the assertion that follows.
 */
export async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, limitMs = 2000): Promise<T> {
  const deadline = Date.now() + limitMs;
  let value = await probe();
  while (!check(value) && Date.now() < deadline) {
    await sleep(50);
    value = await probe();
  }
  return value;
}

/**
 * The `portier` command line run in this process on `database`, as an operator would run
 * it (`env` is the whole environment it sees), with its exit code and what it printed.
 */
export async function runCli(
  database: Database,
  args: string[],
  env: Record<string, string> = { ISSUER, LOG_LEVEL: 'warn' },
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = {
    stdout: (text: string) => {
      stdout += text;
    },
    stderr: (text: string) => {
      stderr += text;
    },
  };
  const code = await cliMain(args, { out, env, database });
  return { code, stdout, stderr };
}

/** A TCP port nobody listens on right now, on 127.0.0.1 (for a server whose URL must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
