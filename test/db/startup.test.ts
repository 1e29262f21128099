import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { and, asc, eq, sql } from 'drizzle-orm';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { ensureBootstrapAdmin } from '../../src/clients/bootstrap.js';
import type { Config } from '../../src/config.js';
import type { Database } from '../../src/db/connect.js';
import { clientGrants, clientSecrets, clients, services, signingKeys } from '../../src/db/schema.js';
import { PUBLICATION_DELAY_SECONDS } from '../../src/keys/publication.js';
import { applyDueRotation, requestRotation } from '../../src/keys/rotation.js';
import { ensureActiveKey, KeyUnavailableError, loadKeySet } from '../../src/keys/signing-keys.js';
import { prepareDatabase } from '../../src/prepare.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  captureLogs,
  createTestDatabase,
  ISSUER,
  postToken,
  type TestServer,
  testConfig,
} from '../helpers.js';

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

/** Awaits `promise` and returns what it rejected with (or undefined if it resolved). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error;
  }
}

const TEST_ACTOR = { clientId: 'test', sub: null };

/**
 * A whole normal rotation at once: a next key is published at `start`, and a publication
 * delay later takes over (as the first instance to notice would switch to it).
 */
async function rotateNow(
  database: Database,
  keyEncryptionKey: Buffer | undefined,
  maxTokenTtl: number,
  start = Date.now(),
): Promise<string> {
  const settings = { alg: 'ES256' as const, keys: keyEncryptionKey, maxTokenTtl };
  await requestRotation(database, settings, new Date(start), TEST_ACTOR);
  const switched = await requestRotation(database, settings, new Date(start + PUBLICATION_DELAY_SECONDS * 1000), TEST_ACTOR);
  return switched.kid;
}

/** A client granted one service of its own, and a token for it through the token endpoint. */
async function issueToken(server: TestServer, name: string): Promise<{ token: string; audience: string }> {
  const audience = `https://${name}.example.com`;
  await addService(server.database, { id: name, audience, scopes: [`${name}:read`] });
  const { clientId, clientSecret } = await addClient(server, {
    client_id: `${name}-client`,
    grants: [{ service: name, scopes: [`${name}:read`] }],
  });
  const response = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, clientSecret) });
  if (response.statusCode !== 200) throw new Error(`token request failed: ${response.statusCode} ${response.body}`);
  return { token: (response.json() as { access_token: string }).access_token, audience };
}

async function publishedJwks(server: TestServer): Promise<{ keys: JWK[] }> {
  const response = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return response.json() as { keys: JWK[] };
}

async function verifyAgainstJwks(server: TestServer, token: string, audience: string) {
  return jwtVerify(token, createLocalJWKSet(await publishedJwks(server)), { issuer: ISSUER, audience, typ: 'at+jwt' });
}

// ---------------------------------------------------------------------------------------
// (a) Several instances starting at once on one empty database
// ---------------------------------------------------------------------------------------

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
  const keySet = await loadKeySet(database.db, undefined);
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
  const inserts = await Promise.allSettled(Array.from({ length: 4 }, () => ensureActiveKey(database.db, 'ES256', undefined)));
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

// ---------------------------------------------------------------------------------------
// (b) KEY_ENCRYPTION_KEY
// ---------------------------------------------------------------------------------------

t.test('with KEY_ENCRYPTION_KEY the private key is encrypted at rest', async (t) => {
  const keyEncryptionKey = randomBytes(32);
  const { database } = await createTestDatabase(t);
  const logs = captureLogs('info');
  await prepareDatabase(database, testConfig({ keyEncryptionKey }), logs.logger);
  t.notMatch(logs.text(), /KEY_ENCRYPTION_KEY is not set/, 'no warning');

  const rows = await keyRows(database);
  t.equal(rows.length, 1);
  const row = rows[0];
  t.equal(row?.encrypted, true, 'marked encrypted');
  t.notMatch(row?.privateKey, /"d":/, 'the stored private key does not contain the private JWK');
  t.notMatch(row?.privateKey, /"d"/);
  t.match(row?.privateKey, /^v2\.[\w-]+\.[\w-]+\.[\w-]+$/, 'an encryption envelope (v2, bound to the kid)');
  const publicJwk = row?.publicJwk as Record<string, unknown>;
  t.notOk('d' in publicJwk, 'the public JWK has no private part');

  const server = await build(t, { database, config: { keyEncryptionKey } });
  const { token, audience } = await issueToken(server, 'orders');
  const jwks = await publishedJwks(server);
  for (const key of jwks.keys) t.notOk('d' in key, `published key ${key.kid} has no private part`);
  const { protectedHeader, payload } = await verifyAgainstJwks(server, token, audience);
  t.equal(protectedHeader.kid, row?.kid, 'signed with the encrypted key');
  t.equal(protectedHeader.alg, 'ES256');
  t.equal(payload.client_id, 'orders-client');

  await t.test('starting without the key fails, naming KEY_ENCRYPTION_KEY', async (t) => {
    const fromLoad = await rejection(loadKeySet(database.db, undefined));
    t.ok(fromLoad instanceof KeyUnavailableError, 'loadKeySet: KeyUnavailableError');
    t.match((fromLoad as Error).message, /KEY_ENCRYPTION_KEY/);
    const fromStart = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: undefined })));
    t.ok(fromStart instanceof KeyUnavailableError, 'prepareDatabase: KeyUnavailableError');
    t.match((fromStart as Error).message, /KEY_ENCRYPTION_KEY/);
  });

  await t.test('starting with another key fails, naming KEY_ENCRYPTION_KEY', async (t) => {
    const other = randomBytes(32);
    const fromLoad = await rejection(loadKeySet(database.db, other));
    t.ok(fromLoad instanceof KeyUnavailableError, 'loadKeySet: KeyUnavailableError');
    t.match((fromLoad as Error).message, /KEY_ENCRYPTION_KEY/);
    const fromStart = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: other })));
    t.ok(fromStart instanceof KeyUnavailableError, 'prepareDatabase: KeyUnavailableError');
    t.match((fromStart as Error).message, /KEY_ENCRYPTION_KEY/);
    t.notMatch((fromStart as Error).message, new RegExp(other.toString('base64').replace(/[+/=]/g, '.')), 'the key is not in the message');
  });

  await t.test('the failed starts changed nothing; the right key works again', async (t) => {
    const after = await keyRows(database);
    t.strictSame(
      after.map((key) => [key.kid, key.status, key.privateKey]),
      rows.map((key) => [key.kid, key.status, key.privateKey]),
    );
    await prepareDatabase(database, testConfig({ keyEncryptionKey }));
    const keySet = await loadKeySet(database.db, keyEncryptionKey);
    t.equal(keySet.active.kid, row?.kid);
  });

  await t.test('rotation keeps new keys encrypted', async (t) => {
    await rotateNow(database, keyEncryptionKey, 3600);
    for (const row of await keyRows(database)) {
      t.equal(row.encrypted, true, `${row.status} key encrypted`);
      t.notMatch(row.privateKey, /"d":/);
    }
    t.ok(await loadKeySet(database.db, keyEncryptionKey));
  });
});

// ---------------------------------------------------------------------------------------
// (c) SIGNING_ALG changed on an existing database
// ---------------------------------------------------------------------------------------

t.test('changing SIGNING_ALG from ES256 to RS256 publishes an RS256 key first, which then takes over', async (t) => {
  const { database } = await createTestDatabase(t);
  const es = await build(t, { database, config: { signingAlg: 'ES256' } });
  const before = await issueToken(es, 'orders');
  t.equal(decodeProtectedHeader(before.token).alg, 'ES256');
  const [oldKey] = await keyRows(database);
  if (oldKey === undefined) throw new Error('no key');

  // Before this change the switch was immediate; now the new key is published first, like
  // any rotation, so no verifier with a cached JWKS meets its kid unannounced.
  const rs = await build(t, { database, config: { signingAlg: 'RS256' } });
  let rows = await keyRows(database);
  t.equal(rows.length, 2, 'a new key was made');
  const next = rows.find((row) => row.status === 'next');
  t.equal(next?.alg, 'RS256', 'the next key is RS256');
  t.same(
    rows.filter((row) => row.status === 'active').map((row) => row.kid),
    [oldKey.kid],
    'the ES256 key still signs',
  );
  t.strictSame(new Set((await publishedJwks(rs)).keys.map((key) => key.kid)), new Set([oldKey.kid, next?.kid]), 'both keys published');
  const during = await issueToken(rs, 'invoices');
  t.equal(decodeProtectedHeader(during.token).alg, 'ES256', 'until the switch, tokens are ES256');

  rs.clock.advance(PUBLICATION_DELAY_SECONDS * 1000);
  const after = await issueToken(rs, 'payments');
  const fresh = await verifyAgainstJwks(rs, after.token, after.audience);
  t.equal(fresh.protectedHeader.alg, 'RS256', 'then new tokens are RS256');
  t.equal(fresh.protectedHeader.kid, next?.kid);

  rows = await keyRows(database);
  const active = rows.filter((row) => row.status === 'active');
  t.equal(active.length, 1, 'exactly one active key');
  t.equal(active[0]?.kid, next?.kid);
  const retired = rows.find((row) => row.kid === oldKey.kid);
  t.equal(retired?.status, 'retired', 'the ES256 key is retired');
  t.ok(retired?.retiredAt instanceof Date, 'with a retirement time');
  const window = Number(retired?.publishUntil) - Number(retired?.retiredAt);
  t.ok(
    window >= rs.config.accessTokenTtl * 1000,
    `published at least as long as a token lives (${window / 1000} s ≥ ${rs.config.accessTokenTtl} s)`,
  );

  const keySet = await loadKeySet(database.db, undefined);
  t.equal(keySet.active.alg, 'RS256');
  t.strictSame(new Set(keySet.jwks.keys.map((key) => key.kid)), new Set([oldKey.kid, next?.kid]), 'both keys in the JWKS');
  const oldPublished = keySet.jwks.keys.find((key) => key.kid === oldKey.kid);
  t.equal(oldPublished?.alg, 'ES256');
  t.equal(oldPublished?.kty, 'EC');
  for (const issued of [before, during]) {
    const old = await verifyAgainstJwks(rs, issued.token, issued.audience);
    t.equal(old.protectedHeader.kid, oldKey.kid, 'a token signed before the switch still verifies');
  }

  await prepareDatabase(database, testConfig({ signingAlg: 'RS256' }));
  t.equal((await keyRows(database)).length, 2, 'starting again with RS256 makes no key');

  await prepareDatabase(database, testConfig({ signingAlg: 'EdDSA' }));
  await prepareDatabase(database, testConfig({ signingAlg: 'EdDSA' }));
  const third = await keyRows(database);
  t.equal(third.length, 3, 'on to EdDSA: one next key, however often it starts');
  t.same(
    third.filter((row) => row.status === 'next').map((row) => row.alg),
    ['EdDSA'],
  );
  await prepareDatabase(database, testConfig({ signingAlg: 'PS256' }));
  const fourth = await keyRows(database);
  const eddsa = fourth.find((row) => row.alg === 'EdDSA');
  t.equal(eddsa?.status, 'retired', 'changed again before the switch: the EdDSA next key is withdrawn (it never signed)');
  t.same(
    fourth.filter((row) => row.status === 'next').map((row) => row.alg),
    ['PS256'],
  );
  t.equal((await loadKeySet(database.db, undefined)).jwks.keys.length, 3, 'published: ES256 (retired), RS256, PS256');
});

// ---------------------------------------------------------------------------------------
// (d) rotation
// ---------------------------------------------------------------------------------------

t.test('signing keys without KEY_ENCRYPTION_KEY, and rotation', async (t) => {
  const { database } = await createTestDatabase(t);

  await t.test('stored as they are, with a warning at start', async (t) => {
    const logs = captureLogs('info');
    await prepareDatabase(database, testConfig(), logs.logger);
    const [row] = await keyRows(database);
    t.equal(row?.encrypted, false);
    t.match(row?.privateKey, /"d":/, 'the plain private JWK');
    t.match(logs.text(), /KEY_ENCRYPTION_KEY is not set/, 'a warning at start');
  });

  await t.test('rotations keep exactly one active key', async (t) => {
    const [first] = await keyRows(database);
    const kids = [first?.kid];
    for (let i = 0; i < 3; i++) {
      const kid = await rotateNow(database, undefined, 3600);
      kids.push(kid);
      const active = await activeKeys(database);
      t.strictSame(
        active.map((row) => row.kid),
        [kid],
        `after rotation ${i + 1}, only the new key is active`,
      );
    }
    t.equal(new Set(kids).size, 4, 'every rotation made a new kid');
    const rows = await keyRows(database);
    t.equal(rows.length, 4);
    for (const row of rows.filter((r) => r.status === 'retired')) {
      t.ok(Number(row.publishUntil) - Number(row.retiredAt) >= 3600 * 1000, `retired ${row.kid} published for the token lifetime`);
    }
    const keySet = await loadKeySet(database.db, undefined);
    t.equal(keySet.active.kid, kids[3]);
    t.strictSame(new Set(keySet.jwks.keys.map((key) => key.kid)), new Set(kids), 'all keys still published');

    // A retired key whose publish window has passed leaves the JWKS.
    await database.db
      .update(signingKeys)
      .set({ publishUntil: new Date(Date.now() - 1000) })
      .where(and(eq(signingKeys.kid, kids[0] ?? ''), eq(signingKeys.status, 'retired')));
    const trimmed = await loadKeySet(database.db, undefined);
    t.notOk(
      trimmed.jwks.keys.some((key) => key.kid === kids[0]),
      'a key past its publish window is no longer published',
    );
    t.equal(trimmed.jwks.keys.length, 3);
  });

  await t.test('concurrent rotation requests publish one next key; concurrent switches happen once', async (t) => {
    const before = (await keyRows(database)).length;
    const settings = { alg: 'ES256' as const, keys: undefined, maxTokenTtl: 3600 };
    const now = Date.now();
    const results = await Promise.allSettled([0, 1, 2].map(() => requestRotation(database, settings, new Date(now), TEST_ACTOR)));
    const kids = results.map((result) => (result.status === 'fulfilled' ? result.value.kid : `failed: ${String(result.reason)}`));
    t.equal(new Set(kids).size, 1, `all answer with the same next key: ${kids.join(', ')}`);
    t.equal((await keyRows(database)).length, before + 1, 'one key was made');
    const later = new Date(now + PUBLICATION_DELAY_SECONDS * 1000);
    const switched = await Promise.all([0, 1, 2].map(() => applyDueRotation(database, settings, undefined, later)));
    t.same(
      switched.filter((done) => done),
      [true],
      'exactly one switch',
    );
    t.same(
      (await activeKeys(database)).map((row) => row.kid),
      [kids[0]],
      'exactly one active key: the new one',
    );
  });

  await t.test('a failed rotation does not put the private key in the error', async (t) => {
    // Make the INSERT of a new next key fail (a CHECK that only new rows must meet).
    await database.db.execute(sql`ALTER TABLE signing_keys ADD CONSTRAINT test_no_new_keys CHECK (status <> 'next') NOT VALID`);
    const error = await rejection(requestRotation(database, { alg: 'ES256', keys: undefined, maxTokenTtl: 3600 }, new Date(), TEST_ACTOR));
    t.ok(error instanceof Error, 'the rotation failed');
    const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
    t.notMatch(text, /"d":/, 'no private JWK in the message, the properties or the stack');
    t.notMatch(text, /params:/);
    t.match((error as Error).message, /test_no_new_keys/, "the database's reason is kept");
    t.equal((await activeKeys(database)).length, 1, 'the old key is still active (rolled back)');
  });
});

// ---------------------------------------------------------------------------------------
// (e) The bootstrap admin client
// ---------------------------------------------------------------------------------------

const AWKWARD_SECRETS = [
  'p@ss word:with%25+plus&=/?#"\'\\',
  '%%%%%%%%%%%%%%%%',
  '%3A%2F%25%2B not decoded twice',
  '+plus+signs+are+not+spaces+',
  '   spaces around the secret   ',
  'a:b:c:d:e:f:g:h:i:j',
  '~!@#$%^&*()_+{}|:"<>?[]\\;\',./`-=',
  'Basic dXNlcjpwYXNz==',
];

function bootstrapConfig(clientSecret: string): Partial<Config> {
  return { bootstrapAdmin: { clientId: 'root-admin', clientSecret } };
}

async function bootstrapState(database: Database) {
  const rows = await database.db.select().from(clients).where(eq(clients.clientId, 'root-admin'));
  const client = rows[0];
  const secrets = client ? await database.db.select().from(clientSecrets).where(eq(clientSecrets.clientUuid, client.id)) : [];
  const grants = client ? await database.db.select().from(clientGrants).where(eq(clientGrants.clientUuid, client.id)) : [];
  return { rows, client, secrets, grants };
}

function outcomes(logs: ReturnType<typeof captureLogs>): unknown[] {
  return logs
    .lines()
    .filter((line) => line.msg === 'bootstrap admin client checked')
    .map((line) => line.outcome);
}

/** Asks for an admin token with the secret, by Basic and by post, and checks what comes back. */
async function adminTokenWorks(t: Test, server: TestServer, clientSecret: string, label: string) {
  const basic = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', clientSecret) });
  t.equal(basic.statusCode, 200, `${label}: client_secret_basic works${basic.statusCode === 200 ? '' : ` (${basic.body})`}`);
  const post = await postToken(server.app, { grant_type: 'client_credentials', client_id: 'root-admin', client_secret: clientSecret });
  t.equal(post.statusCode, 200, `${label}: client_secret_post works${post.statusCode === 200 ? '' : ` (${post.body})`}`);
  for (const response of [basic, post]) {
    if (response.statusCode !== 200) continue;
    const body = response.json() as { access_token: string; scope: string; token_type: string };
    const { payload } = await verifyAgainstJwks(server, body.access_token, ADMIN_AUDIENCE);
    t.equal(payload.aud, ADMIN_AUDIENCE, `${label}: a token for the admin API`);
    t.equal(payload.client_id, 'root-admin');
    t.strictSame(String(payload.scope).split(' ').sort(), ['admin:read', 'admin:write'], `${label}: both admin scopes`);
    t.equal(payload.iss, ISSUER);
    t.equal(payload.preferred_username, 'service-account-root-admin');
  }
}

async function adminTokenRefused(t: Test, server: TestServer, clientSecret: string, label: string) {
  const basic = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('root-admin', clientSecret) });
  t.equal(basic.statusCode, 401, `${label}: refused by Basic`);
  t.equal((basic.json() as { error: string }).error, 'invalid_client');
  const post = await postToken(server.app, { grant_type: 'client_credentials', client_id: 'root-admin', client_secret: clientSecret });
  t.equal(post.statusCode, 401, `${label}: refused by post`);
}

t.test('the bootstrap admin client', async (t) => {
  const [firstSecret, ...otherSecrets] = AWKWARD_SECRETS as [string, ...string[]];
  // The first start, on an empty database, creates it.
  const server = await build(t, { config: bootstrapConfig(firstSecret) });
  const { database } = server;

  const created = await bootstrapState(database);
  t.equal(created.rows.length, 1, 'one client row');
  t.equal(created.secrets.length, 1, 'one secret');
  t.match(created.secrets[0]?.hash, /^\$argon2id\$/, 'stored as an argon2id hash');
  t.notOk(created.secrets[0]?.hash.includes(firstSecret), 'not in clear');
  t.strictSame(
    created.grants.map((grant) => ({ service: grant.serviceId, scopes: [...grant.scopes].sort() })),
    [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }],
    'granted portier-admin with admin:read and admin:write',
  );
  t.equal(created.client?.enabled, true);
  t.equal(created.client?.createdBy, 'bootstrap', 'created by the bootstrap actor');
  t.equal(
    await ensureBootstrapAdmin(database.db, 'other-admin', 'another-long-secret'),
    'created',
    'ensureBootstrapAdmin says created for a new one',
  );

  const again = captureLogs('info');
  await prepareDatabase(database, testConfig(bootstrapConfig(firstSecret)), again.logger);
  await prepareDatabase(database, testConfig(bootstrapConfig(firstSecret)), again.logger);
  t.strictSame(outcomes(again), ['unchanged', 'unchanged'], 'starting again changes nothing');
  t.equal(await ensureBootstrapAdmin(database.db, 'root-admin', firstSecret), 'unchanged', 'ensureBootstrapAdmin says unchanged');
  const unchanged = await bootstrapState(database);
  t.equal(unchanged.rows.length, 1, 'no duplicate client');
  t.equal(unchanged.client?.id, created.client?.id, 'the same client (same service-account id)');
  t.strictSame(
    unchanged.secrets.map((s) => s.id),
    created.secrets.map((s) => s.id),
    'the same secret row',
  );
  t.equal(unchanged.grants.length, 1, 'no duplicate grant');

  await adminTokenWorks(t, server, firstSecret, JSON.stringify(firstSecret));
  const explicit = await postToken(
    server.app,
    { grant_type: 'client_credentials', resource: ADMIN_AUDIENCE, scope: 'admin:read' },
    { authorization: basicAuth('root-admin', firstSecret) },
  );
  t.equal(explicit.statusCode, 200, 'resource and a narrower scope');
  t.equal((explicit.json() as { scope: string }).scope, 'admin:read');
  await adminTokenRefused(t, server, `${firstSecret}x`, 'a wrong secret');

  let previous = firstSecret;
  for (const secret of otherSecrets) {
    await t.test(`the secret changes to ${JSON.stringify(secret)}`, async (t) => {
      const changed = captureLogs('info');
      await prepareDatabase(database, testConfig(bootstrapConfig(secret)), changed.logger);
      t.strictSame(outcomes(changed), ['updated'], 'updated');
      server.app.portier.generation.changed();
      const state = await bootstrapState(database);
      t.equal(state.rows.length, 1, 'still one client');
      t.equal(state.client?.id, created.client?.id, 'the same client');
      t.equal(state.secrets.length, 1, 'the new secret replaced the old one');
      await adminTokenWorks(t, server, secret, 'the new secret');
      await adminTokenRefused(t, server, previous, 'the old secret');
      previous = secret;
    });
  }

  await t.test('a lost admin grant is restored', async (t) => {
    const state = await bootstrapState(database);
    await database.db.delete(clientGrants).where(eq(clientGrants.clientUuid, state.client?.id ?? ''));
    t.equal(await ensureBootstrapAdmin(database.db, 'root-admin', previous), 'updated');
    const restored = await bootstrapState(database);
    t.strictSame(
      restored.grants.map((grant) => ({ service: grant.serviceId, scopes: [...grant.scopes].sort() })),
      [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }],
    );
    t.strictSame(
      restored.secrets.map((s) => s.id),
      state.secrets.map((s) => s.id),
      'the secret was left alone',
    );
  });

  await t.test('an admin who disabled the bootstrap client on purpose is not overruled', async (t) => {
    const state = await bootstrapState(database);
    await database.db
      .update(clients)
      .set({ enabled: false })
      .where(eq(clients.id, state.client?.id ?? ''));
    await prepareDatabase(database, testConfig(bootstrapConfig(previous)));
    t.equal((await bootstrapState(database)).client?.enabled, false, 'still disabled');
    server.app.portier.generation.changed();
    await adminTokenRefused(t, server, previous, 'the disabled bootstrap client');
  });
});

t.test('setting KEY_ENCRYPTION_KEY later encrypts keys that were stored in clear', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig({ keyEncryptionKey: undefined }));
  const [before] = await keyRows(database);
  t.equal(before?.encrypted, false);
  const keyEncryptionKey = randomBytes(32);
  await prepareDatabase(database, testConfig({ keyEncryptionKey }));
  const [after] = await keyRows(database);
  t.equal(after?.kid, before?.kid, 'the same key, not a new one');
  t.equal(after?.encrypted, true);
  t.notMatch(after?.privateKey ?? '', /"d":/, 'no private JWK in clear');
  const keys = await loadKeySet(database.db, keyEncryptionKey);
  t.equal(keys.active.kid, before?.kid);
});

t.test('a SIGNING_ALG change with a wrong KEY_ENCRYPTION_KEY fails before rotating anything', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig({ keyEncryptionKey: randomBytes(32), signingAlg: 'ES256' }));
  const error = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: randomBytes(32), signingAlg: 'RS256' })));
  t.type(error, KeyUnavailableError);
  const rows = await keyRows(database);
  t.equal(rows.length, 1, 'no new key');
  t.equal(rows[0]?.status, 'active', 'the old key is still active');
});
