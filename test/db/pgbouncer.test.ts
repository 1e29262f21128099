/**
 * Portier behind PgBouncer in transaction pooling, the way most production PostgreSQL is
 * reached: real Portier processes started at the same moment on an empty database, started
 * again, and a change through one instance in force on the others. Part of the PostgreSQL
 * pass (DATABASE_URL); needs the `pgbouncer` program (Debian's package of that name).
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import t from 'tap';
import type { Database } from '../../src/db/connect.js';
import { clients, signingKeys } from '../../src/db/schema.js';
import { ADMIN_ID, ADMIN_SECRET, basicAuth, createTestDatabase, eventually, freePort, sleep } from '../helpers.js';
import { pgbouncerSkipReason, startPgbouncer } from './stand-ins.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/serve-on-go.ts', import.meta.url));
const PROJECT_ROOT = dirname(dirname(dirname(FIXTURE)));
const ISSUER = 'http://portier.test';
const INSTANCES = 3;
/**
 * Starts of all instances together: the first on an empty database, then restarts of all.
 * Each round costs about 9 s here, mostly loading TypeScript three times on two cores, so
 * the suite does two; PGBOUNCER_TEST_ROUNDS=5 runs the five of the acceptance check.
 */
const ROUNDS = Math.max(2, Number.parseInt(process.env.PGBOUNCER_TEST_ROUNDS ?? '', 10) || 2);
/** How long one instance may take from the start signal to ready (tsx, two cores shared). */
const READY_WITHIN_MS = 20_000;

t.test('Portier behind PgBouncer in transaction pooling', { skip: pgbouncerSkipReason() }, async (t) => {
  const { database, databaseUrl } = await createTestDatabase(t);
  if (databaseUrl === undefined) throw new Error('expected PostgreSQL');
  const bouncer = await startPgbouncer(t, new URL(databaseUrl));

  let instances: Instance[] = [];
  t.teardown(async () => void (await Promise.all(instances.map((instance) => instance.stop()))));
  let firstKid: string | undefined;
  for (let round = 1; round <= ROUNDS; round++) {
    await t.test(
      `round ${round}: ${INSTANCES} instances started at the same moment${round === 1 ? ' on an empty database' : ' again'}`,
      async (t) => {
        const stopped = await Promise.all(instances.map((instance) => instance.stop()));
        if (stopped.length > 0)
          t.strictSame(
            stopped,
            stopped.map(() => 0),
            'the previous instances stopped cleanly on SIGTERM',
          );
        instances = await startTogether(INSTANCES, bouncer.url);
        const times = await Promise.all(instances.map((instance) => instance.ready));
        t.comment(`ready after ${times.map((ms) => `${ms} ms`).join(', ')}`);
        for (const [i, ms] of times.entries()) {
          t.ok(ms >= 0, `instance ${i + 1} is ready${ms < 0 ? `: ${instances[i]?.output()}` : ''}`);
        }
        const state = await databaseState(database);
        t.equal(state.activeKeys.length, 1, 'exactly one active signing key');
        t.equal(state.keys, 1, 'and no other key made');
        firstKid ??= state.activeKeys[0];
        t.equal(state.activeKeys[0], firstKid, 'the key of the first start');
        t.equal(state.bootstrapAdmins, 1, 'one bootstrap admin');
        t.equal(state.migrations, await expectedMigrationCount(), 'each migration applied once');
        // A lock is held while a job runs (the notice sweep and the retention job start with
        // each instance, in transactions of their own); left behind means still held after
        // they have had their few seconds, as a lock taken outside a transaction through
        // PgBouncer would be.
        const locks = await eventually(
          async () => (await databaseState(database)).advisoryLocks,
          (held) => held === 0,
          10_000,
        );
        t.equal(locks, 0, 'no advisory lock left behind');
      },
    );
  }

  await t.test('a change through one instance is in force on the others within a second', async (t) => {
    const [a, b, c] = instances;
    if (a === undefined || b === undefined || c === undefined) throw new Error('expected three running instances');
    const admin = await token(a, ADMIN_ID, ADMIN_SECRET, { scope: 'admin:write', resource: `${ISSUER}/admin` });
    t.equal(admin.status, 200, 'an admin token through instance A');
    const bearer = { authorization: `Bearer ${admin.body.access_token}` };
    const service = await call(
      a,
      'POST',
      '/admin/services',
      { id: 'orders', name: 'Orders', audience: 'https://orders.example', scopes: ['orders:read'] },
      bearer,
    );
    t.equal(service.status, 201, 'a service created through A');
    const created = await call(
      a,
      'POST',
      '/admin/clients',
      { client_id: 'vendor-x', name: 'Vendor X', owner: 'user-1', grants: [{ service: 'orders', scopes: ['orders:read'] }] },
      bearer,
    );
    t.equal(created.status, 201, 'a client created through A');
    const secret = String(created.body.client_secret);

    let started = Date.now();
    const issued = await eventually(
      () => token(b, 'vendor-x', secret),
      (response) => response.status === 200,
      1000,
    );
    t.equal(issued.status, 200, `instance B issues the new client a token (after ${Date.now() - started} ms)`);
    const { payload } = await jwtVerify(String(issued.body.access_token), createRemoteJWKSet(new URL(`${c.base}/.well-known/jwks.json`)), {
      issuer: ISSUER,
      audience: 'https://orders.example',
      typ: 'at+jwt',
    });
    t.equal(payload.client_id, 'vendor-x', "B's token verifies against C's JWKS: one signing key for all");

    const disabled = await call(a, 'POST', '/admin/clients/vendor-x/disable', undefined, bearer);
    t.equal(disabled.status, 200, 'the client disabled through A');
    started = Date.now();
    const refused = await eventually(
      () => token(b, 'vendor-x', secret),
      (response) => response.status === 401,
      1000,
    );
    t.equal(refused.status, 401, `instance B refuses it ${Date.now() - started} ms later`);
    t.ok(Date.now() - started <= 1000, 'within a second');
    const introspected = await eventually(
      () =>
        call(c, 'POST', '/oauth/introspect', `token=${String(issued.body.access_token)}`, { authorization: basicAuth('vendor-x', secret) }),
      (response) => response.status === 401 || response.body.active === false,
      1000,
    );
    t.not(introspected.body.active, true, 'instance C no longer says its token is active');
  });
});

interface Instance {
  base: string;
  /** Milliseconds from the start signal to the first 200 from /readyz, or -1 if it never came. */
  ready: Promise<number>;
  output(): string;
  /** SIGTERM (SIGKILL if it is still there 10 s later); resolves with the exit code, or the signal's name. */
  stop(): Promise<number | string>;
}

/**
 * Starts `count` Portier processes on `databaseUrl`; when every one has loaded its code,
 * tells them all to start at once.
 */
async function startTogether(count: number, databaseUrl: string): Promise<Instance[]> {
  const children: Array<{
    child: ChildProcessByStdio<Writable, Readable, Readable>;
    port: number;
    loaded: Promise<void>;
    output: () => string;
    exited: Promise<number | string>;
  }> = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER,
        BOOTSTRAP_ADMIN_CLIENT_ID: ADMIN_ID,
        BOOTSTRAP_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
        LOG_LEVEL: 'warn',
      },
    });
    let output = '';
    const loaded = new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('loaded\n')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`instance exited (${code}) before it loaded: ${output}`)));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
    children.push({ child, port, loaded, output: () => output, exited });
  }
  await Promise.all(children.map((entry) => entry.loaded));
  const go = Date.now();
  for (const { child } of children) child.stdin.write('go\n');
  return children.map(({ child, port, output, exited }) => {
    const base = `http://127.0.0.1:${port}`;
    return {
      base,
      ready: waitUntilReady(base, go, exited),
      output,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(kill);
        return code;
      },
    };
  });
}

async function waitUntilReady(base: string, since: number, exited: Promise<unknown>): Promise<number> {
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone && Date.now() - since < READY_WITHIN_MS) {
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.status === 200) return Date.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return -1;
}

async function databaseState(database: Database) {
  const count = async (query: ReturnType<typeof sql>) =>
    Number(((await database.db.execute(query)) as unknown as { rows: Array<{ n: number }> }).rows[0]?.n);
  const active = await database.db.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.status, 'active'));
  return {
    activeKeys: active.map((row) => row.kid),
    keys: await count(sql`SELECT count(*)::int AS n FROM signing_keys`),
    bootstrapAdmins: (await database.db.select({ id: clients.id }).from(clients).where(eq(clients.clientId, ADMIN_ID))).length,
    migrations: await count(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`),
    advisoryLocks: await count(
      sql`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    ),
  };
}

async function expectedMigrationCount(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const journal = JSON.parse(await readFile(new URL('../../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as {
    entries: unknown[];
  };
  return journal.entries.length;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(instance: Instance, method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const form = typeof body === 'string';
  const response = await fetch(`${instance.base}${path}`, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function token(instance: Instance, clientId: string, clientSecret: string, form: Record<string, string> = {}): Promise<Reply> {
  return call(instance, 'POST', '/oauth/token', new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(), {
    authorization: basicAuth(clientId, clientSecret),
  });
}
