import { sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import pg from 'pg';
import t from 'tap';
import { connectDatabase } from '../../src/db/connect.js';
import { GENERATION_POLL_MS } from '../../src/db/generation.js';
import { prepareDatabase } from '../../src/prepare.js';
import {
  ADMIN_ID,
  ADMIN_SECRET,
  addClient,
  addService,
  basicAuth,
  build,
  captureLogs,
  createTestDatabase,
  eventually,
  postToken,
  sleep,
  type TestServer,
  testConfig,
} from '../helpers.js';
import { startRelay } from './stand-ins.js';

// When the database fails: 503 + Retry-After (never a 500, never SQL in a body), logs that
// do not flood, and every endpoint back by itself within a second of the database.
// On PostgreSQL the outage is real: Portier talks to it through a TCP relay that the test
// stops (connections refused, open ones cut) and starts again.

const onPostgres = Boolean(process.env.DATABASE_URL);
const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const GRANTS = [{ service: 'events', scopes: ['events:read'] }];
const INTERNALS = /select|insert|update|from "|params|drizzle|stack|at \//i;

t.test('PostgreSQL stops and starts again', { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' }, async (t) => {
  const { database: direct, databaseUrl } = await createTestDatabase(t);
  if (databaseUrl === undefined) throw new Error('no database url');
  const link = await startRelay(t, new URL(databaseUrl));
  const database = await connectDatabase({ databaseUrl: link.url });
  t.teardown(() => database.close().catch(() => {}));
  const logs = captureLogs('info');
  const server = await build(t, {
    database,
    logger: logs.logger,
    config: { bootstrapAdmin: { clientId: ADMIN_ID, clientSecret: ADMIN_SECRET } },
  });
  await addService(direct, EVENTS);
  const cached = await addClient(server, { grants: GRANTS });
  const uncached = await addClient(server, { grants: GRANTS });
  const { app } = server;
  // Let the cache-generation poll see those changes first, so that it does not drop what
  // the requests below put in the caches.
  await new Promise((resolve) => setTimeout(resolve, 2 * GENERATION_POLL_MS));
  const token = (client: { clientId: string; clientSecret: string }) =>
    postToken(app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
  const adminToken = await postToken(
    app,
    { grant_type: 'client_credentials', scope: 'admin:read', resource: `${server.config.issuer}/admin` },
    {
      authorization: basicAuth(ADMIN_ID, ADMIN_SECRET),
    },
  );
  const bearer = `Bearer ${(adminToken.json() as { access_token: string }).access_token}`;
  const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: bearer } });

  t.equal((await token(cached)).statusCode, 200, 'before: a token (the client is now cached)');
  for (const url of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/admin/clients', '/readyz']) {
    t.equal((await get(url)).statusCode, 200, `before: ${url}`);
  }

  await link.stop();

  const stillServed = await token(cached);
  t.equal(stillServed.statusCode, 200, 'during the outage, a cached client still gets tokens');
  const wrongSecret = await token({ clientId: cached.clientId, clientSecret: 'wrong' });
  t.equal(wrongSecret.statusCode, 401, 'and a wrong secret for it is refused from the cached record (its lookup again fails)');
  t.equal((await token(cached)).statusCode, 200, 'which the failed lookup left in place: the right secret is still served');
  const unavailable = await token(uncached);
  t.equal(unavailable.statusCode, 503, 'a client that needs the database: 503');
  t.equal(unavailable.headers['retry-after'], '1');
  t.same(unavailable.json(), {
    error: 'temporarily_unavailable',
    error_description: 'the server is temporarily unable to handle the request; retry later',
  });
  t.equal((await get('/.well-known/jwks.json')).statusCode, 200, 'the JWKS answers from its cache');
  const admin = await get('/admin/clients');
  t.equal(admin.statusCode, 503, 'an admin read: 503');
  t.equal(admin.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.equal(admin.headers['retry-after'], '1');
  t.equal((await get('/readyz')).statusCode, 503, '/readyz says 503');

  // Past the outage grace an instance drops its caches; then every endpoint needs the database.
  app.portier.generation.changed();
  for (const url of ['/.well-known/jwks.json', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    const response = await get(url);
    t.equal(response.statusCode, 503, `${url}: 503 when it has to load`);
    t.notMatch(response.body, INTERNALS, `${url}: nothing internal in the body`);
  }
  t.equal((await token(cached)).statusCode, 503, 'and so does the token endpoint');

  const flood = await Promise.all(Array.from({ length: 200 }, () => token(uncached)));
  t.ok(
    flood.every((response) => response.statusCode === 503),
    '200 requests, 200 × 503',
  );
  for (const response of [...flood.slice(0, 3), unavailable, admin]) t.notMatch(response.body, INTERNALS, 'no SQL, parameters or stack');
  const outageLines = logs.lines().filter((line) => String(line.msg).startsWith('database unavailable'));
  t.ok(outageLines.length >= 1 && outageLines.length <= 4, `the outage is logged, not 200 times (${outageLines.length} lines)`);
  t.notMatch(logs.text(), /params: \[(?!hidden)/, 'and no query parameters in the log');

  await link.start();
  const back = Date.now();
  const ready = await eventually(
    async () => {
      const answers = await Promise.all([
        token(uncached),
        token(cached),
        get('/.well-known/jwks.json'),
        get('/.well-known/oauth-authorization-server'),
        get('/.well-known/openid-configuration'),
        get('/admin/clients'),
        get('/readyz'),
      ]);
      return answers.map((answer) => answer.statusCode);
    },
    (statuses) => statuses.every((status) => status === 200),
    3000,
  );
  t.same(ready, [200, 200, 200, 200, 200, 200, 200], 'everything is back by itself');
  t.ok(Date.now() - back < 1500, `within a second or so of the database (${Date.now() - back} ms)`);
});

t.test(
  'a change just before an outage: every other client is still served, on every instance',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const { database: direct, databaseUrl } = await createTestDatabase(t);
    if (databaseUrl === undefined) throw new Error('no database url');
    const link = await startRelay(t, new URL(databaseUrl));
    const connect = async () => {
      const database = await connectDatabase({ databaseUrl: link.url });
      t.teardown(() => database.close().catch(() => {}));
      return database;
    };
    const config = { bootstrapAdmin: { clientId: ADMIN_ID, clientSecret: ADMIN_SECRET } };
    const a = await build(t, { database: await connect(), config });
    const b = await build(t, { database: await connect(), config });
    await addService(direct, EVENTS);
    const clients = await Promise.all(Array.from({ length: 20 }, () => addClient(a, { grants: GRANTS })));
    await Promise.all([a, b].map((server) => server.app.portier.generation.catchUp()));
    const token = (server: TestServer, client: { clientId: string; clientSecret: string }) =>
      postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
    const roles = (response: { json(): unknown }) =>
      (decodeJwt((response.json() as { access_token: string }).access_token).roles as string[] | undefined) ?? [];
    for (const server of [a, b]) {
      // One after the other: twenty first verifications at once would fill the argon2 queue.
      const served: number[] = [];
      for (const client of clients) served.push((await token(server, client)).statusCode);
      t.same(
        served,
        clients.map(() => 200),
        'each of the 20 clients gets a token (and is cached)',
      );
    }
    const adminToken = await postToken(
      a.app,
      { grant_type: 'client_credentials', scope: 'admin:write', resource: `${a.config.issuer}/admin` },
      { authorization: basicAuth(ADMIN_ID, ADMIN_SECRET) },
    );
    const [changed, ...others] = clients;
    if (changed === undefined) throw new Error('no clients');
    const patched = await a.app.inject({
      method: 'PATCH',
      url: `/admin/clients/${changed.clientId}`,
      headers: {
        authorization: `Bearer ${(adminToken.json() as { access_token: string }).access_token}`,
        'content-type': 'application/json',
      },
      payload: JSON.stringify({ roles: ['changed'] }),
    });
    t.equal(patched.statusCode, 200, 'one client is changed through instance A');
    const seen = await eventually(
      () => token(b, changed),
      (response) => response.statusCode === 200 && roles(response).includes('changed'),
      1000,
    );
    t.same(roles(seen), ['changed'], 'instance B serves it in its new state within a second');
    await sleep(500);

    await link.stop();
    for (const [name, server] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const during = await Promise.all(others.map((client) => token(server, client)));
      t.same(
        during.map((response) => response.statusCode),
        others.map(() => 200),
        `during the outage, instance ${name} serves the 19 unchanged clients`,
      );
      const again = await token(server, changed);
      t.ok(
        (again.statusCode === 200 && roles(again).includes('changed')) || again.statusCode === 503,
        `instance ${name}: the changed client in its new state, or 503 (${again.statusCode})`,
      );
      t.equal((await server.app.inject('/.well-known/jwks.json')).statusCode, 200, `instance ${name}: the JWKS still answers`);
      // Past the records' one-minute age: a reload that fails leaves them serving.
      server.clock.advance(61_000);
      const later = await Promise.all(others.map((client) => token(server, client)));
      t.same(
        later.map((response) => response.statusCode),
        others.map(() => 200),
        `instance ${name}: still served once their records are past their age`,
      );
    }

    await link.start();
    const back = await eventually(
      () => Promise.all([a, b].map((server) => token(server, changed))),
      (answers) => answers.every((response) => response.statusCode === 200),
      3000,
    );
    t.same(
      back.map((response) => response.statusCode),
      [200, 200],
      'everything back when the database is',
    );
  },
);

t.test('backend connections killed under a running server', { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' }, async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const client = await addClient(server, { grants: GRANTS });
  const token = () =>
    postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
  t.equal((await token()).statusCode, 200);
  const url = new URL(server.databaseUrl ?? '');
  const killer = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await killer.connect();
  t.teardown(() => killer.end());
  await killer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
    url.pathname.slice(1),
  ]);
  server.app.portier.generation.changed();
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await token()).statusCode);
  t.ok(
    statuses.every((status) => status === 200 || status === 503),
    `only 200 or 503 (${statuses.join(' ')})`,
  );
  const after = await eventually(token, (response) => response.statusCode === 200, 1000);
  t.equal(after.statusCode, 200, 'and tokens again within a second');
});

t.test('a failure of our own is a 500 without its message, logged once a second, and nothing stays broken', async (t) => {
  const logs = captureLogs('info');
  const server = await build(t, { logger: logs.logger });
  const { app, database } = server;
  t.equal((await app.inject('/.well-known/oauth-authorization-server')).statusCode, 200);
  // A query that PostgreSQL refuses (the table is gone), not an unreachable database.
  await database.db.execute(sql`ALTER TABLE services RENAME TO services_elsewhere`);
  app.portier.generation.changed();
  const broken = await Promise.all(Array.from({ length: 50 }, () => app.inject('/.well-known/oauth-authorization-server')));
  t.ok(
    broken.every((response) => response.statusCode === 500),
    '500',
  );
  const [first] = broken;
  t.equal(first?.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.notMatch(first?.body ?? '', INTERNALS, 'nothing internal in the body');
  t.notMatch(first?.body ?? '', /services/, 'not even the table name');
  const failures = logs.lines().filter((line) => String(line.msg).startsWith('request failed'));
  t.ok(failures.length >= 1 && failures.length <= 2, `logged, but not 50 times (${failures.length})`);
  t.notMatch(logs.text(), /params: \[(?!hidden)/, 'without the query parameters');

  await database.db.execute(sql`ALTER TABLE services_elsewhere RENAME TO services`);
  t.equal((await app.inject('/.well-known/oauth-authorization-server')).statusCode, 200, 'the failed load was not kept');
});

t.test('on PGlite: a closed database answers 503, never 500', { skip: onPostgres && 'PGlite only' }, async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  const server = await build(t, { database });
  await addService(database, EVENTS);
  const client = await addClient(server, { grants: GRANTS });
  await database.close();
  const response = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  );
  t.equal(response.statusCode, 503);
  t.notMatch(response.body, INTERNALS);
});
