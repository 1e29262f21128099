import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import t from 'tap';
import type { Config } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema.js';
import { quotaBatch } from '../../src/policy/quota.js';
import { DAY_MS, dayStart, HOUR_MS, hourStart } from '../../src/policy/windows.js';
import { expectInvalid, expectOAuthError } from '../expect.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  buildWithAdmin,
  eventually,
  openBudgets,
  postToken,
  type TestServer,
} from '../helpers.js';

// Per-client token quotas: enforce (429 with Retry-After until the UTC window ends) and log
// (the token, and one audit event per window), the RateLimit-* headers, the defaults of
// the configuration, validation, a token the hook denied given back, and the count shared
// by two instances on one database within the documented bound.

const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read'] };
const GRANTS = [{ service: 'orders', scopes: ['orders:read'] }];
/** Refusals are not held back here (AUTH_THROTTLE_DELAY_MS=0), and admin tokens outlive the hours the tests move through. */
const quick = (config: Partial<Config> = {}): Partial<Config> => ({
  accessTokenTtl: 86_400,
  protection: openBudgets({ throttleDelayMs: 0 }),
  ...config,
});

interface Credentials {
  clientId: string;
  clientSecret: string;
}

const ask = (server: TestServer, client: Credentials) =>
  postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });

/** Moves the server's (frozen) clock to one second into the next UTC hour. */
function nextHour(server: TestServer): void {
  const now = server.clock.now();
  server.clock.advance(hourStart(now) + HOUR_MS + 1000 - now);
}

async function quotaEvents(server: TestServer, clientId: string) {
  return server.database.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, 'client.quota_exceeded'), eq(auditEvents.clientId, clientId)));
}

t.test('enforce: RateLimit-* headers while within, then 429 until the UTC hour ends', async (t) => {
  const server = await buildWithAdmin(t, { config: quick() });
  server.clock.freeze();
  await addService(server.database, ORDERS);
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'busy-client',
    name: 'Busy',
    owner: 'o',
    grants: GRANTS,
    token_quota: { per_hour: 3 },
  });
  t.equal(created.statusCode, 201);
  t.same(created.json().token_quota, { per_hour: 3, per_day: null, mode: 'enforce' }, 'left-out members: no limit, enforce');
  const client = { clientId: 'busy-client', clientSecret: created.json().client_secret as string };

  const now = server.clock.now();
  const reset = String(Math.ceil((hourStart(now) + HOUR_MS - now) / 1000));
  for (const remaining of ['2', '1', '0']) {
    const response = await ask(server, client);
    t.equal(response.statusCode, 200);
    t.equal(response.headers['ratelimit-limit'], '3');
    t.equal(response.headers['ratelimit-remaining'], remaining);
    t.equal(response.headers['ratelimit-reset'], reset, 'seconds until the hour ends');
    t.equal(response.headers['ratelimit-policy'], '3;w=3600');
  }
  const refused = await ask(server, client);
  expectOAuthError(t, refused, 429, 'too_many_requests');
  t.equal(refused.headers['retry-after'], reset, 'Retry-After: until the window ends');
  t.match(refused.json().error_description, /token quota for this hour/);
  // A denial is audited after the answer has gone (see audit/denials.ts).
  const denial = await eventually(
    () => server.database.db.query.auditEvents.findFirst({ where: eq(auditEvents.action, 'token.denied') }),
    (row) => row !== undefined,
  );
  t.match(denial, { clientId: 'busy-client', details: { error: 'too_many_requests', reason: 'over its token quota per hour' } });

  nextHour(server);
  const fresh = await ask(server, client);
  t.equal(fresh.statusCode, 200, 'a new hour, a new quota');
  t.equal(fresh.headers['ratelimit-remaining'], '2');
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /portier_token_quota_exceeded_total\{mode="enforce"\} 1/);
});

t.test('enforce: the day, and the window with the fewest tokens left in the headers', async (t) => {
  const server = await buildWithAdmin(t, { config: quick() });
  server.clock.freeze();
  // Early in a UTC day, so that the next hour is the same day.
  const now = server.clock.now();
  server.clock.advance(dayStart(now) + DAY_MS + 60_000 - now);
  await addService(server.database, ORDERS);
  const client = await addClient(server, { grants: GRANTS, token_quota: { per_hour: 3, per_day: 4, mode: 'enforce' } });
  const first = await ask(server, client);
  t.equal(first.headers['ratelimit-policy'], '3;w=3600, 4;w=86400');
  t.equal(first.headers['ratelimit-limit'], '3', 'the hour has fewer tokens left');
  await ask(server, client);
  await ask(server, client);
  nextHour(server);
  const last = await ask(server, client);
  t.equal(last.statusCode, 200);
  t.equal(last.headers['ratelimit-limit'], '4', 'now the day has fewer left');
  t.equal(last.headers['ratelimit-remaining'], '0');
  const refused = await ask(server, client);
  expectOAuthError(t, refused, 429, 'too_many_requests');
  const at = server.clock.now();
  t.equal(refused.headers['retry-after'], String(Math.ceil((dayStart(at) + DAY_MS - at) / 1000)), 'until the UTC day ends');
  t.match(refused.json().error_description, /token quota for this day/);
});

t.test('log: every token issued, one client.quota_exceeded per window', async (t) => {
  const server = await build(t, { config: quick() });
  server.clock.freeze();
  await addService(server.database, ORDERS);
  const client = await addClient(server, { client_id: 'chatty', grants: GRANTS, token_quota: { per_hour: 2, per_day: null, mode: 'log' } });
  for (let i = 0; i < 5; i += 1) {
    const response = await ask(server, client);
    t.equal(response.statusCode, 200, `token ${i + 1} issued`);
    t.equal(response.headers['ratelimit-remaining'], String(Math.max(0, 1 - i)));
  }
  const events = await eventually(
    () => quotaEvents(server, 'chatty'),
    (rows) => rows.length > 0,
  );
  t.equal(events.length, 1, 'one event for three tokens over the quota');
  t.same(events[0]?.details, {
    window: 'hour',
    window_start: new Date(hourStart(server.clock.now())).toISOString(),
    limit: 2,
    mode: 'log',
  });
  nextHour(server);
  for (let i = 0; i < 3; i += 1) t.equal((await ask(server, client)).statusCode, 200);
  t.equal(
    (
      await eventually(
        () => quotaEvents(server, 'chatty'),
        (rows) => rows.length === 2,
      )
    ).length,
    2,
    'one more in the next hour',
  );
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /portier_token_quota_exceeded_total\{mode="log"\} 4/);
});

t.test('the defaults of TOKEN_QUOTA_*: for clients without a token_quota of their own', async (t) => {
  const server = await build(t, { config: quick({ tokenQuota: { perHour: 2, perDay: undefined, mode: 'enforce' } }) });
  server.clock.freeze();
  await addService(server.database, ORDERS);
  const plain = await addClient(server, { grants: GRANTS });
  const exempt = await addClient(server, { grants: GRANTS, token_quota: { per_hour: null, per_day: null } });
  const larger = await addClient(server, { grants: GRANTS, token_quota: { per_hour: 5 } });
  t.equal((await ask(server, plain)).headers['ratelimit-limit'], '2');
  await ask(server, plain);
  t.equal((await ask(server, plain)).statusCode, 429, 'the default quota');
  for (let i = 0; i < 5; i += 1) {
    const response = await ask(server, exempt);
    t.equal(response.statusCode, 200);
    t.equal(response.headers['ratelimit-limit'], undefined, 'no quota: no RateLimit headers');
  }
  for (let i = 0; i < 5; i += 1) t.equal((await ask(server, larger)).statusCode, 200, "the client's own quota");
  t.equal((await ask(server, larger)).statusCode, 429);
});

t.test('no quota anywhere: no RateLimit headers, nothing counted', async (t) => {
  const server = await build(t, { config: quick() });
  await addService(server.database, ORDERS);
  const client = await addClient(server, { grants: GRANTS });
  const response = await ask(server, client);
  t.equal(response.statusCode, 200);
  t.equal(response.headers['ratelimit-limit'], undefined);
  await server.app.portier.quotas.sync();
  t.same(await server.database.db.query.quotaCounts.findMany(), [], 'no quota counts');
});

t.test('token_quota: per_hour ≤ 0 and other bad values are a 400 naming the field; null clears it', async (t) => {
  const server = await buildWithAdmin(t, { config: quick() });
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'quota-client', name: 'x', owner: 'o' })).statusCode, 201);
  const cases: Array<[unknown, string]> = [
    [{ per_hour: 0 }, '/token_quota/per_hour'],
    [{ per_hour: -5 }, '/token_quota/per_hour'],
    [{ per_hour: 1.5 }, '/token_quota/per_hour'],
    [{ per_hour: '10' }, '/token_quota/per_hour'],
    [{ per_day: 0 }, '/token_quota/per_day'],
    [{ per_day: 1_000_000_001 }, '/token_quota/per_day'],
    [{ mode: 'block' }, '/token_quota/mode'],
    [{ per_minute: 5 }, '/token_quota/per_minute'],
    [5, '/token_quota'],
  ];
  for (const [quota, path] of cases) {
    expectInvalid(t, await server.admin('PATCH', '/admin/clients/quota-client', { token_quota: quota }), [path], JSON.stringify(quota));
  }
  expectInvalid(t, await server.admin('POST', '/admin/clients', { name: 'x', owner: 'o', token_quota: { per_hour: 0 } }), [
    '/token_quota/per_hour',
  ]);
  const set = await server.admin('PATCH', '/admin/clients/quota-client', { token_quota: { per_day: 100, mode: 'log' } });
  t.same(set.json().token_quota, { per_hour: null, per_day: 100, mode: 'log' });
  const audited = await server.admin('GET', '/admin/audit-events?client_id=quota-client&action=client.updated');
  t.same(audited.json().items[0].details.changes.token_quota, { from: null, to: { per_hour: null, per_day: 100, mode: 'log' } });
  const cleared = await server.admin('PATCH', '/admin/clients/quota-client', { token_quota: null });
  t.equal(cleared.json().token_quota, null, 'null: the defaults again');
});

t.test('a token the hook denies is given back to the quota', async (t) => {
  let deny = true;
  const hook = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(deny ? '{"deny":{}}' : '{}'));
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    hook.closeAllConnections();
    hook.close();
  });
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
  const server = await build(t, { config: quick({ tokenHook: { url, secret: 'x'.repeat(32), timeoutMs: 2000, onFailure: 'deny' } }) });
  await addService(server.database, ORDERS);
  const client = await addClient(server, { grants: GRANTS, token_quota: { per_hour: 1 } });
  for (let i = 0; i < 3; i += 1) t.equal((await ask(server, client)).statusCode, 403, 'denied by the hook');
  deny = false;
  t.equal((await ask(server, client)).statusCode, 200, 'the quota is still whole');
  t.equal((await ask(server, client)).statusCode, 429);
});

t.test('two instances on one database share the count', async (t) => {
  const first = await build(t, { config: quick() });
  const second = await build(t, { config: quick(), database: first.database });
  await addService(first.database, ORDERS);
  const client = await addClient(first, { client_id: 'shared', grants: GRANTS, token_quota: { per_hour: 10, mode: 'enforce' } });
  second.app.portier.generation.changed();

  await t.test('taking turns: the quota, plus at most one batch (1 token at this size) per instance', async (t) => {
    t.equal(quotaBatch({ perHour: 10, perDay: null, mode: 'enforce' }), 1);
    const answers: number[] = [];
    for (let i = 0; i < 16; i += 1) answers.push((await ask(i % 2 === 0 ? first : second, client)).statusCode);
    const issued = answers.filter((status) => status === 200).length;
    t.ok(issued >= 10 && issued <= 12, `${issued} issued: 10 to 10 + 2 × 1`);
    t.same(answers.slice(issued), Array(16 - issued).fill(429), 'then refused on both, for good');
  });

  await t.test('at once on both: at most the quota plus one batch per instance', async (t) => {
    const limit = 400;
    const quota = { perHour: limit, perDay: null, mode: 'enforce' } as const;
    const batch = quotaBatch(quota);
    t.equal(batch, 4);
    const busy = await addClient(first, { client_id: 'busy-shared', grants: GRANTS, token_quota: { per_hour: limit } });
    second.app.portier.generation.changed();
    // One token each first: the secret verified (argon2) once per instance, not per request.
    t.equal((await ask(first, busy)).statusCode, 200);
    t.equal((await ask(second, busy)).statusCode, 200);
    const answers = await Promise.all(Array.from({ length: 600 }, (_, i) => ask(i % 2 === 0 ? first : second, busy)));
    const issued = 2 + answers.filter((answer) => answer.statusCode === 200).length;
    t.same([...new Set(answers.map((answer) => answer.statusCode))].sort(), [200, 429], 'issued, then refused');
    t.ok(issued >= limit, `never fewer than the quota (${issued})`);
    t.ok(issued <= limit + 2 * batch, `at most the quota + one batch per instance: ${issued} ≤ ${limit} + 2 × ${batch}`);
  });

  await t.test('log mode on both: one audit event for the window', async (t) => {
    const chatty = await addClient(first, { client_id: 'chatty-shared', grants: GRANTS, token_quota: { per_hour: 2, mode: 'log' } });
    second.app.portier.generation.changed();
    for (let i = 0; i < 8; i += 1) t.equal((await ask(i % 2 === 0 ? first : second, chatty)).statusCode, 200);
    await Promise.all([first.app.portier.quotas.sync(), second.app.portier.quotas.sync()]);
    const events = await eventually(
      () => quotaEvents(first, 'chatty-shared'),
      (rows) => rows.length > 0,
    );
    t.equal(events.length, 1, 'both instances saw it, one event was written');
  });
});

t.test('the database failing under the count: each instance goes on with its own, and writes it once it can', async (t) => {
  const server = await build(t, { config: quick() });
  await addService(server.database, ORDERS);
  const client = await addClient(server, { grants: GRANTS, token_quota: { per_hour: 5 } });
  t.equal((await ask(server, client)).statusCode, 200);
  t.equal((await ask(server, client)).statusCode, 200);
  const { sql } = await import('drizzle-orm');
  await server.database.db.execute(sql`ALTER TABLE quota_counts RENAME TO quota_counts_away`);
  const answers: number[] = [];
  for (let i = 0; i < 5; i += 1) answers.push((await ask(server, client)).statusCode);
  t.same(answers, [200, 200, 200, 429, 429], 'the quota still holds, on what this instance counted');
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /portier_count_write_failures_total\{counts="quota"\} [1-9]/, 'the failed writes are counted');
  await server.database.db.execute(sql`ALTER TABLE quota_counts_away RENAME TO quota_counts`);
  await server.app.portier.quotas.sync();
  const rows = await server.database.db.query.quotaCounts.findMany();
  t.same(
    rows.map((row) => row.tokens),
    [5],
    'every token written once the database takes it',
  );
});

t.test('a batch is 1 % of the smallest limit, at least one token, with no other cap', async (t) => {
  t.equal(quotaBatch({ perHour: 50, perDay: null, mode: 'enforce' }), 1);
  t.equal(quotaBatch({ perHour: 1000, perDay: 500, mode: 'enforce' }), 5, 'the smallest limit decides');
  t.equal(
    quotaBatch({ perHour: 1_000_000_000, perDay: null, mode: 'log' }),
    10_000_000,
    'far below a large limit, a client is synced by time alone',
  );
});
