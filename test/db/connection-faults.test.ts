/**
 * No database error ends the process: a connection that breaks while it is idle, checked
 * out between the statements of a transaction, or in the middle of one, is discarded; the
 * request in flight gets 503 (never 500), and the pool recovers by itself.
 *
 * Two ways of breaking connections, both on PostgreSQL (DATABASE_URL):
 * - PostgreSQL stops behind a real PgBouncer in transaction pooling (a relay between
 *   PgBouncer and PostgreSQL is stopped: PgBouncer loses its server connections and answers
 *   the next statement, often a transaction's BEGIN, with a FATAL and closes), many times,
 *   while admin writes, token requests and readiness polls are in flight;
 * - PostgreSQL terminates Portier's backends (pg_terminate_backend) while admin writes run
 *   their transactions.
 * Portier runs in this test's process, so a crash of the process is a crash of the test.
 */
import pg from 'pg';
import t from 'tap';
import { connectDatabase, type Database } from '../../src/db/connect.js';
import {
  addClient,
  addService,
  basicAuth,
  buildWithAdmin,
  createTestDatabase,
  eventually,
  postToken,
  sleep,
  type TestServer,
} from '../helpers.js';
import { pgbouncerSkipReason, startPgbouncer, startRelay } from './stand-ins.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const GRANTS = [{ service: 'events', scopes: ['events:read'] }];
/** Stops of PostgreSQL behind PgBouncer; each costs about a second and a half here. */
const OUTAGES = 6;

/** Connections of Portier's pool that are lent out now: none once the requests are done, or some were lost. */
function lentOut(database: Database): number {
  const pool = (database.db as unknown as { $client: pg.Pool }).$client;
  return pool.totalCount - pool.idleCount;
}

/** What the workload below got: every status code, counted. */
type Tally = Map<number, number>;

function count(tally: Tally, status: number): void {
  tally.set(status, (tally.get(status) ?? 0) + 1);
}

function describe(tally: Tally): string {
  return [...tally.entries()]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ');
}

/**
 * Admin writes (PATCH of clients, each its own transaction), token requests of several
 * clients and readiness polls, sent in waves until `stop()` is called; every answer's status
 * is counted.
 */
function startWorkload(server: TestServer, bearer: string, clients: Array<{ clientId: string; clientSecret: string }>) {
  const tally: Tally = new Map();
  let running = true;
  let wave = 0;
  const { app } = server;
  const patch = (clientId: string) =>
    app.inject({
      method: 'PATCH',
      url: `/admin/clients/${clientId}`,
      headers: { authorization: bearer, 'content-type': 'application/json' },
      payload: JSON.stringify({ description: `wave ${wave}` }),
    });
  const token = (client: { clientId: string; clientSecret: string }) =>
    postToken(app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
  const loop = (async () => {
    while (running) {
      wave++;
      const answers = await Promise.all([
        ...clients.map((client) => patch(client.clientId)),
        ...clients.map((client) => token(client)),
        app.inject('/readyz'),
        app.inject('/.well-known/jwks.json'),
      ]);
      for (const answer of answers) count(tally, answer.statusCode);
    }
  })();
  return {
    tally,
    async stop() {
      running = false;
      await loop;
    },
  };
}

t.test('PostgreSQL stops behind PgBouncer while requests are in flight', { skip: pgbouncerSkipReason() }, async (t) => {
  const { database: direct, databaseUrl } = await createTestDatabase(t);
  if (databaseUrl === undefined) throw new Error('expected PostgreSQL');
  const link = await startRelay(t, new URL(databaseUrl));
  // PgBouncer retries a failed server login after server_login_retry (15 s by default);
  // 1 s keeps the test short. See docs on readiness behind PgBouncer.
  const bouncer = await startPgbouncer(t, new URL(link.url), { server_login_retry: '1' });
  const database = await connectDatabase({ databaseUrl: bouncer.url, databaseConnectTimeout: 2_000 });
  t.teardown(() => database.close().catch(() => {}));
  const server = await buildWithAdmin(t, { database });
  await addService(direct, EVENTS);
  const clients = await Promise.all(Array.from({ length: 3 }, () => addClient(server, { grants: GRANTS })));
  const bearer = `Bearer ${server.token}`;

  for (let outage = 1; outage <= OUTAGES; outage++) {
    const workload = startWorkload(server, bearer, clients);
    // Stop at a different moment of the workload each time: right away, or a little later.
    await sleep(outage * 37);
    await link.stop();
    await sleep(400);
    await link.start();
    await workload.stop();
    t.equal(workload.tally.get(500) ?? 0, 0, `outage ${outage}: no 500 (${describe(workload.tally)})`);
    const unexpected = [...workload.tally.keys()].filter((status) => status !== 200 && status !== 503);
    t.same(unexpected, [], `outage ${outage}: only 200 and 503`);

    // Back: readiness, tokens and admin writes, once PgBouncer logs in to the server again.
    const back = await eventually(
      async () => {
        const answers = await Promise.all([
          server.app.inject('/readyz'),
          postToken(
            server.app,
            { grant_type: 'client_credentials' },
            { authorization: basicAuth(clients[0]?.clientId ?? '', clients[0]?.clientSecret ?? '') },
          ),
          server.app.inject({
            method: 'PATCH',
            url: `/admin/clients/${clients[1]?.clientId}`,
            headers: { authorization: bearer, 'content-type': 'application/json' },
            payload: JSON.stringify({ description: `after outage ${outage}` }),
          }),
        ]);
        return answers.map((answer) => answer.statusCode);
      },
      (statuses) => statuses.every((status) => status === 200),
      10_000,
    );
    t.same(back, [200, 200, 200], `outage ${outage}: ready, tokens and admin writes again`);
  }
  // Background work (the cache generation's poll, buffered writes) may hold one for a moment.
  t.equal(
    await eventually(
      async () => lentOut(database),
      (n) => n === 0,
    ),
    0,
    'no connection of the pool was lost (each broken one was discarded)',
  );
});

t.test(
  'backends terminated while admin writes run their transactions',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' },
  async (t) => {
    const { databaseUrl } = await createTestDatabase(t);
    if (databaseUrl === undefined) throw new Error('expected PostgreSQL');
    // Our own pool, with an application_name the killer below picks out.
    const url = new URL(databaseUrl);
    url.searchParams.set('application_name', 'portier-faults');
    const database = await connectDatabase({ databaseUrl: url.toString() });
    t.teardown(() => database.close().catch(() => {}));
    const server = await buildWithAdmin(t, { database });
    await addService(database, EVENTS);
    const clients = await Promise.all(Array.from({ length: 4 }, () => addClient(server, { grants: GRANTS })));
    const bearer = `Bearer ${server.token}`;

    const killer = new pg.Client({ connectionString: databaseUrl });
    await killer.connect();
    t.teardown(() => killer.end());
    const workload = startWorkload(server, bearer, clients);
    let killed = 0;
    let inTransaction = 0;
    for (let round = 0; round < 20; round++) {
      await sleep(50);
      const result = await killer.query<{ state: string | null }>(
        `SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = 'portier-faults' AND datname = current_database()`,
      );
      killed += result.rowCount ?? 0;
      inTransaction += result.rows.filter((row) => row.state?.startsWith('idle in transaction') || row.state === 'active').length;
    }
    await workload.stop();
    t.ok(killed > 0, `backends terminated: ${killed} (${inTransaction} of them in a transaction or a statement)`);
    t.equal(workload.tally.get(500) ?? 0, 0, `no 500 (${describe(workload.tally)})`);
    t.same(
      [...workload.tally.keys()].filter((status) => status !== 200 && status !== 503),
      [],
      'only 200 and 503',
    );
    const after = await eventually(
      () =>
        server.app.inject({
          method: 'PATCH',
          url: `/admin/clients/${clients[0]?.clientId}`,
          headers: { authorization: bearer, 'content-type': 'application/json' },
          payload: JSON.stringify({ description: 'after' }),
        }),
      (response) => response.statusCode === 200,
      2_000,
    );
    t.equal(after.statusCode, 200, 'admin writes work again');
    // Background work (the cache generation's poll, buffered writes) may hold one for a moment.
    t.equal(
      await eventually(
        async () => lentOut(database),
        (n) => n === 0,
      ),
      0,
      'no connection of the pool was lost (each broken one was discarded)',
    );
  },
);
