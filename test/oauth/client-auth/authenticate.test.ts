import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { setClientEnabled } from '../../../src/clients/lifecycle.js';
import { addClient, addService, basicAuth, build, CLI_ACTOR, openBudgets } from '../../helpers.js';

// Known and unknown client_ids cost the same: every refusal, and every secret not
// recognised from before, spends one database lookup of the client_id and one argon2id
// verification, whether the client exists or not and whether its record was cached or not.
// Only a secret that verified before, of an active client calling from where it may,
// costs neither. (How long each takes is measured in bench/timing-probe.ts, not here.)

function tokenFrom(app: FastifyInstance, clientId: string, secret: string, remoteAddress = '192.0.2.10') {
  return app.inject({
    method: 'POST',
    url: '/oauth/token',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    payload: 'grant_type=client_credentials',
  });
}

async function setup(t: Test) {
  const server = await build(t, { config: { protection: openBudgets({ throttleDelayMs: 0 }) } });
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  const grants = [{ service: 'events', scopes: ['events:read'] }];
  const known = await addClient(server, { client_id: 'known', grants });
  const disabled = await addClient(server, { client_id: 'switched-off', grants });
  const fenced = await addClient(server, { client_id: 'fenced', grants, ip_ranges: ['198.51.100.0/24'] });
  await setClientEnabled(server.database.db, 'switched-off', false, CLI_ACTOR, Date.now());
  const { directory, metrics, generation } = server.app.portier;
  // The changes above moved the cache generation: a poll that notices it later would drop
  // the caches between two requests of a test about what one instance's caches save. No
  // other instance changes anything here, so the poll is stopped.
  generation.stop();
  directory.invalidate();

  // Counts the client lookups that reach the database (a cached record costs none).
  const counts = { lookups: 0 };
  const lookUp = directory.lookUp.bind(directory);
  directory.lookUp = async (clientId) => {
    const found = await lookUp(clientId);
    if (!found.fromCache) counts.lookups += 1;
    return found;
  };
  const reload = directory.reload.bind(directory);
  const loads = new WeakSet<Promise<unknown>>();
  directory.reload = (clientId) => {
    const loading = reload(clientId);
    // Requests that reload together share one load (one query).
    if (!loads.has(loading)) counts.lookups += 1;
    loads.add(loading);
    return loading;
  };
  const argon2 = async () => (await metrics.argon2Verifications.get()).values[0]?.value ?? 0;
  /** What one request costs: its status, database lookups and argon2id verifications. */
  const cost = async (clientId: string, secret: string, remoteAddress?: string) => {
    const [lookups, verifications] = [counts.lookups, await argon2()];
    const { statusCode } = await tokenFrom(server.app, clientId, secret, remoteAddress);
    return { status: statusCode, lookups: counts.lookups - lookups, argon2: (await argon2()) - verifications };
  };
  return { ...server, known, disabled, fenced, cost, counts, argon2 };
}

t.test('every refusal costs one database lookup and one argon2id verification, cached or not, known or not', async (t) => {
  const { app, known, disabled, fenced, cost } = await setup(t);
  const refusal = { status: 401, lookups: 1, argon2: 1 };
  t.same(await cost('nobody-here', 'guess'), refusal, 'an unknown client_id, first time');
  t.same(await cost('nobody-here', 'guess'), refusal, 'the same unknown client_id again (its absence is cached)');
  t.same(await cost('known', 'wrong'), refusal, 'a known client_id with a wrong secret, not cached');
  t.same(await cost('known', 'wrong'), refusal, 'the same, cached');
  t.same(await cost('switched-off', disabled.clientSecret), refusal, 'a disabled client, not cached');
  t.same(await cost('switched-off', disabled.clientSecret), refusal, 'a disabled client, cached');
  t.same(await cost('fenced', fenced.clientSecret), refusal, 'outside its IP ranges, not cached');
  t.same(await cost('fenced', fenced.clientSecret), refusal, 'outside its IP ranges, cached');

  t.same(await cost('known', known.clientSecret), { status: 200, lookups: 1, argon2: 1 }, 'the first verification of a secret');
  t.same(await cost('known', known.clientSecret), { status: 200, lookups: 0, argon2: 0 }, 'then it is recognised: neither');
  t.same(await cost('known', 'wrong'), refusal, 'a wrong secret after that still costs both');
  app.portier.directory.invalidate();
  t.same(await cost('known', known.clientSecret), { status: 200, lookups: 1, argon2: 0 }, 'after a change anywhere: the record only');
  t.same(await cost('fenced', fenced.clientSecret, '198.51.100.7'), { status: 200, lookups: 1, argon2: 1 }, 'from inside its range');
  t.same(await cost('fenced', fenced.clientSecret, '198.51.100.7'), { status: 200, lookups: 0, argon2: 0 }, 'recognised');
  t.same(await cost('fenced', fenced.clientSecret), refusal, 'the right secret from outside its range: refused, at full cost');
});

t.test('parallel requests for a cached client whose secret is not recognised yet share one verification', async (t) => {
  const { app, known, cost, counts, argon2 } = await setup(t);
  t.same(await cost('known', 'wrong'), { status: 401, lookups: 1, argon2: 1 }, 'the record is cached now, the secret not remembered');
  const [lookups, verifications] = [counts.lookups, await argon2()];
  const answers = await Promise.all(Array.from({ length: 10 }, () => tokenFrom(app, 'known', known.clientSecret)));
  t.same(
    answers.map((answer) => answer.statusCode),
    Array(10).fill(200),
  );
  // A lookup under way is joined; one that has ended is not (the next request makes its own).
  t.ok(counts.lookups - lookups >= 1 && counts.lookups - lookups <= 10, `a lookup each at most (${counts.lookups - lookups})`);
  t.equal((await argon2()) - verifications, 1, 'one verification');
});
