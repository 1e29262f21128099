import { eq, sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { pruneExpired } from '../../src/db/retention.js';
import { clientUsage } from '../../src/db/schema-usage.js';
import { UsageCounters } from '../../src/policy/usage.js';
import { DAY_MS, dayStart, HOUR_MS, hourStart } from '../../src/policy/windows.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { addClient, addService, basicAuth, build, buildWithAdmin, openBudgets, postToken } from '../helpers.js';

// Usage per client: tokens and refusals counted in memory, written in one statement per
// flush, shown per UTC hour (48) or day (90); counts kept through a failed flush, a
// deleted client's dropped, old rows pruned, memory bounded.

const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read'] };
const GRANTS = [{ service: 'orders', scopes: ['orders:read'] }];

interface Usage {
  granularity: string;
  buckets: Array<{ start: string; tokens: number; refusals: number }>;
}

async function setUp(t: Test) {
  const server = await buildWithAdmin(t, { config: { accessTokenTtl: 86_400, protection: openBudgets({ throttleDelayMs: 0 }) } });
  server.clock.freeze();
  await addService(server.database, ORDERS);
  const client = await addClient(server, { client_id: 'acme-sync', grants: GRANTS, token_quota: { per_hour: 3 } });
  // The admin's own token is counted too: written now, so that what follows is this client's alone.
  await server.app.portier.usage.flush();
  const rowsOfClient = () => server.database.db.select().from(clientUsage).where(eq(clientUsage.clientUuid, client.uuid));
  const ask = (form: Record<string, string> = {}, secret = client.clientSecret) =>
    postToken(server.app, { grant_type: 'client_credentials', ...form }, { authorization: basicAuth(client.clientId, secret) });
  const usage = async (granularity = 'hour') => {
    const response = await server.admin('GET', `/admin/clients/acme-sync/usage?granularity=${granularity}`);
    t.equal(response.statusCode, 200, `usage per ${granularity}`);
    return response.json() as Usage;
  };
  return { ...server, client, ask, usage, rowsOfClient };
}

const last = (usage: Usage) => usage.buckets.at(-1);
const totals = (usage: Usage) =>
  usage.buckets.reduce((sum, bucket) => ({ tokens: sum.tokens + bucket.tokens, refusals: sum.refusals + bucket.refusals }), {
    tokens: 0,
    refusals: 0,
  });

t.test('tokens and refusals of every kind, per hour and per day', async (t) => {
  const server = await setUp(t);
  const { ask, usage } = server;
  for (let i = 0; i < 3; i += 1) t.equal((await ask()).statusCode, 200);
  t.equal((await ask()).statusCode, 429, 'over the quota: a refusal');
  t.equal((await ask({}, 'not-the-secret')).statusCode, 401, 'a wrong secret: a refusal');
  t.equal((await ask({ scope: 'orders:write' })).statusCode, 400, 'a scope not granted: a refusal');
  t.equal((await ask({ resource: 'https://elsewhere.example' })).statusCode, 400, 'a service not granted: a refusal');
  const unknown = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('nobody-here', 'x') });
  t.equal(unknown.statusCode, 401, 'an unknown client_id is counted for nobody');

  t.same(totals(await usage()), { tokens: 0, refusals: 0 }, 'nothing before the flush');
  await server.app.portier.usage.flush();
  const hourly = await usage();
  t.equal(hourly.granularity, 'hour');
  t.equal(hourly.buckets.length, 48, 'the last 48 hours');
  const now = server.clock.now();
  t.equal(last(hourly)?.start, new Date(hourStart(now)).toISOString(), 'the current hour last');
  t.equal(hourly.buckets[0]?.start, new Date(hourStart(now) - 47 * HOUR_MS).toISOString(), 'oldest first');
  t.same(last(hourly), { start: new Date(hourStart(now)).toISOString(), tokens: 3, refusals: 4 });
  t.same(totals(hourly), { tokens: 3, refusals: 4 }, 'zeros elsewhere');
  const daily = await usage('day');
  t.equal(daily.buckets.length, 90, 'the last 90 days');
  t.same(last(daily), { start: new Date(dayStart(now)).toISOString(), tokens: 3, refusals: 4 });
  t.equal(daily.buckets[0]?.start, new Date(dayStart(now) - 89 * DAY_MS).toISOString());
  t.equal((await server.rowsOfClient()).length, 1, 'one row per client and hour');

  // An hour later: a bucket of its own; the day sums both.
  server.clock.advance(HOUR_MS);
  t.equal((await ask()).statusCode, 200);
  await server.app.portier.usage.flush();
  const later = await usage();
  t.same(
    later.buckets.slice(-2).map((bucket) => [bucket.tokens, bucket.refusals]),
    [
      [3, 4],
      [1, 0],
    ],
  );
  if (dayStart(server.clock.now()) === dayStart(now)) t.equal(last(await usage('day'))?.tokens, 4, 'the day sums its hours');
});

t.test('the usage endpoint: defaults, bad input, 404, read-only admins', async (t) => {
  const server = await setUp(t);
  const plain = await server.admin('GET', '/admin/clients/acme-sync/usage');
  t.equal(plain.json().granularity, 'hour', 'hour by default');
  expectInvalid(t, await server.admin('GET', '/admin/clients/acme-sync/usage?granularity=week'), ['/querystring/granularity']);
  expectInvalid(t, await server.admin('GET', '/admin/clients/acme-sync/usage?since=2020-01-01T00:00:00Z'), ['/querystring/since']);
  expectProblem(t, await server.admin('GET', '/admin/clients/nobody-here/usage'), 404);
  const reader = await server.tokenFor('admin:read');
  t.equal((await server.admin('GET', '/admin/clients/acme-sync/usage', undefined, reader)).statusCode, 200, 'admin:read may read it');
  t.equal((await server.app.inject({ method: 'GET', url: '/admin/clients/acme-sync/usage' })).statusCode, 401);
});

t.test('a flush that fails keeps its counts, and a later one writes them with the new ones', async (t) => {
  const server = await setUp(t);
  const { ask, usage } = server;
  for (let i = 0; i < 2; i += 1) await ask();
  await server.database.db.execute(sql`ALTER TABLE client_usage RENAME TO client_usage_away`);
  const failed = await server.app.portier.usage.flush().then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(failed instanceof Error, 'the flush failed');
  t.equal(server.app.portier.usage.pending, 1, 'the counts are still held');
  await ask();
  await ask({}, 'wrong');
  await server.database.db.execute(sql`ALTER TABLE client_usage_away RENAME TO client_usage`);
  await server.app.portier.usage.flush();
  t.same(last(await usage()), { start: new Date(hourStart(server.clock.now())).toISOString(), tokens: 3, refusals: 1 }, 'nothing lost');
  t.equal(server.app.portier.usage.pending, 0);
});

t.test('two instances add up in one row per client and hour', async (t) => {
  const first = await setUp(t);
  const second = await build(t, { database: first.database });
  second.clock.freeze();
  second.app.portier.generation.changed();
  await first.ask();
  await postToken(
    second.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(first.client.clientId, first.client.clientSecret) },
  );
  await Promise.all([first.app.portier.usage.flush(), second.app.portier.usage.flush()]);
  t.equal(last(await first.usage())?.tokens, 2, 'both instances counted in one row');
  t.equal((await first.rowsOfClient()).length, 1);
});

t.test("a deleted client's counts are dropped, the others' written", async (t) => {
  const server = await setUp(t);
  const other = await addClient(server, { client_id: 'short-lived', grants: GRANTS });
  await server.ask();
  await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(other.clientId, other.clientSecret) });
  t.equal((await server.admin('DELETE', '/admin/clients/short-lived')).statusCode, 204);
  await server.app.portier.usage.flush();
  t.equal(last(await server.usage())?.tokens, 1);
  const uuids = (await server.database.db.select().from(clientUsage)).map((row) => row.clientUuid);
  t.notOk(uuids.includes(other.uuid), 'no row for the deleted client');
});

t.test('rows past the longest window are pruned with the other expired rows', async (t) => {
  const server = await setUp(t);
  const now = server.clock.now();
  const at = (ms: number) => new Date(hourStart(now) - ms);
  await server.database.db.insert(clientUsage).values([
    { clientUuid: server.client.uuid, hourStart: at(92 * DAY_MS), tokens: 7, refusals: 0 },
    { clientUuid: server.client.uuid, hourStart: at(89 * DAY_MS), tokens: 5, refusals: 1 },
  ]);
  await server.ask();
  await server.app.portier.usage.flush();
  t.match(
    await pruneExpired(server.database, { now, auditRetentionDays: 365 }),
    { client_usage: 1 },
    'the retention run (db/retention.ts)',
  );
  const kept = await server.rowsOfClient();
  t.same(kept.map((entry) => entry.tokens).sort(), [1, 5], 'the row of 92 days ago is gone, the one of 89 days ago kept');
  t.equal(totals(await server.usage('day')).tokens, 6);
});

t.test('memory is bounded: beyond the bound, counts are dropped and reported, never silently', async (t) => {
  const server = await build(t);
  let dropped = 0;
  const counters = new UsageCounters(server.database.db, { onFlushError: () => {}, onDropped: () => (dropped += 1) }, 2);
  const now = server.clock.now();
  counters.issued('client-a', now);
  counters.issued('client-b', now);
  counters.issued('client-a', now);
  t.equal(dropped, 0, 'counts of clients already held are added up');
  counters.refused('client-c', now);
  t.equal(dropped, 1, 'a third client is one too many');
  t.equal(counters.pending, 2);
  await counters.flush();
  counters.issued('client-c', now);
  t.equal(dropped, 1, 'room again once written');
});

t.test('the usage counted for every client without a quota or any policy is only a Map increment', async (t) => {
  const server = await build(t);
  await addService(server.database, ORDERS);
  const client = await addClient(server, { grants: GRANTS });
  await server.app.portier.usage.flush();
  for (let i = 0; i < 3; i += 1) {
    await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
  }
  t.equal(server.app.portier.usage.pending, 1, 'one count for three tokens');
  t.same(await server.database.db.select().from(clientUsage), [], 'nothing written before the flush');
});
