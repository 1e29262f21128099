import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { generateSelfIdentifyingSecret, readPresentedSecret } from '../../src/clients/secrets.js';
import type { ProtectionConfig } from '../../src/config.js';
import { auditEvents } from '../../src/db/schema.js';
import { addClient, addService, basicAuth, build, captureLogs, eventually, openBudgets } from '../helpers.js';

// Abuse resistance at the token, introspection and revocation endpoints: failure budgets
// (429 at no argon2 cost, never a lockout another address can impose), argon2 admission
// (503 when the queue is full, a recognised secret never waits), misplaced secrets kept
// out of the log and the audit trail.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const GRANTS = [{ service: 'events', scopes: ['events:read'] }];

/** Budgets wide open but for those the test sets, and no tarpit hold unless it sets one. */
function protection(overrides: Partial<ProtectionConfig>): ProtectionConfig {
  return openBudgets({ throttleDelayMs: 0, ...overrides });
}

function tokenFrom(app: FastifyInstance, remoteAddress: string, clientId: string, secret: string, url = '/oauth/token') {
  return app.inject({
    method: 'POST',
    url,
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    payload: url === '/oauth/token' ? 'grant_type=client_credentials' : 'token=x',
  });
}

/** argon2id verifications so far, from the server's own metric. */
async function argon2Count(app: FastifyInstance): Promise<number> {
  const metric = await app.portier.metrics.argon2Verifications.get();
  return metric.values[0]?.value ?? 0;
}

async function setup(t: Test, limits: Partial<ProtectionConfig> = {}) {
  const logs = captureLogs('info');
  const server = await build(t, { logger: logs.logger, config: { protection: protection(limits) } });
  await addService(server.database, EVENTS);
  const victim = await addClient(server, { client_id: 'victim', grants: GRANTS });
  return { ...server, logs, victim };
}

t.test('a flood of wrong secrets for one client_id from one address is throttled at no argon2 cost', async (t) => {
  const { app, victim } = await setup(t, { failuresPerClientAndAddress: 5 });
  for (let i = 0; i < 5; i++) t.equal((await tokenFrom(app, '192.0.2.66', 'victim', 'wrong')).statusCode, 401, `failure ${i + 1}: 401`);

  const before = await argon2Count(app);
  const throttled = await tokenFrom(app, '192.0.2.66', 'victim', 'wrong');
  t.equal(throttled.statusCode, 429, 'over the budget: 429');
  t.match(throttled.headers['retry-after'], /^\d+$/, 'with Retry-After in seconds');
  t.ok(Number(throttled.headers['retry-after']) >= 1);
  t.same(Object.keys(throttled.json()).sort(), ['error', 'error_description'], 'an RFC 6749-shaped body');
  t.equal(throttled.json().error, 'too_many_requests');
  t.equal(throttled.headers['cache-control'], 'no-store');
  const right = await tokenFrom(app, '192.0.2.66', 'victim', victim.clientSecret);
  t.equal(right.statusCode, 429, 'even the right secret is not tried from there (no oracle for guesses)');
  t.equal(await argon2Count(app), before, 'no argon2 work for throttled requests');

  const own = await tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret);
  t.equal(own.statusCode, 200, 'the victim still gets tokens from its own address: nobody else can lock it out');
  for (const url of ['/oauth/introspect', '/oauth/revoke']) {
    const response = await tokenFrom(app, '192.0.2.66', 'victim', 'wrong', url);
    t.equal(response.statusCode, 429, `${url} shares the budget`);
  }
});

t.test('a throttled answer looks the same whether the client_id exists or not', async (t) => {
  const { app, clock } = await setup(t, { failuresPerClientAndAddress: 2 });
  // Retry-After counts from each pair's last failure: with time standing still, both pairs
  // failed at the same moment, so any difference left would come from the client_id itself.
  clock.freeze();
  for (const clientId of ['victim', 'nobody-at-all']) {
    for (let i = 0; i < 2; i++) await tokenFrom(app, '198.51.100.1', clientId, 'wrong');
  }
  const existing = await tokenFrom(app, '198.51.100.1', 'victim', 'wrong');
  const missing = await tokenFrom(app, '198.51.100.1', 'nobody-at-all', 'wrong');
  const shape = (response: typeof existing) => ({
    status: response.statusCode,
    body: response.body,
    retryAfter: response.headers['retry-after'],
    wwwAuthenticate: response.headers['www-authenticate'],
  });
  t.same(shape(existing), shape(missing));
  t.equal(existing.statusCode, 429);
});

t.test("random client_ids from one address spend that address budget, and nobody else's", async (t) => {
  const { app, victim } = await setup(t, { failuresPerAddress: 8 });
  for (let i = 0; i < 8; i++) t.equal((await tokenFrom(app, '203.0.113.9', `random-${i}`, 'guess')).statusCode, 401);
  const before = await argon2Count(app);
  t.equal((await tokenFrom(app, '203.0.113.9', 'random-new', 'guess')).statusCode, 429, 'the address is over its budget');
  t.equal((await tokenFrom(app, '203.0.113.9', 'victim', victim.clientSecret)).statusCode, 429, 'whatever it names');
  t.equal(await argon2Count(app), before, 'at no argon2 cost');
  t.equal((await tokenFrom(app, '203.0.113.10', 'victim', victim.clientSecret)).statusCode, 200, 'another address is not affected');
});

t.test(
  'made-up client_ids from one address: a burst of AUTH_FAILURE_BURST_PER_ADDRESS, then one per window ÷ AUTH_FAILURES_PER_ADDRESS',
  async (t) => {
    const { app, clock } = await setup(t, { failuresPerAddress: 60, failureBurstPerAddress: 4 });
    clock.freeze();
    const before = await argon2Count(app);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await tokenFrom(app, '203.0.113.50', `made-up-${i}`, 'guess')).statusCode);
    t.same(statuses, [401, 401, 401, 401, 429, 429, 429, 429, 429, 429], 'four tried, then throttled');
    t.equal((await argon2Count(app)) - before, 4, 'one argon2id verification per guess tried, none for the throttled ones');
    clock.advance(1_000); // a window of 60 s for 60 failures: one a second
    t.equal((await tokenFrom(app, '203.0.113.50', 'made-up-next', 'guess')).statusCode, 401, 'a second later one more is tried');
    t.equal((await tokenFrom(app, '203.0.113.50', 'made-up-after', 'guess')).statusCode, 429, 'only one');
  },
);

t.test('a success makes the pair whole again', async (t) => {
  const { app, victim } = await setup(t, { failuresPerClientAndAddress: 3 });
  for (let round = 0; round < 3; round++) {
    t.equal((await tokenFrom(app, '192.0.2.5', 'victim', 'typo')).statusCode, 401);
    t.equal((await tokenFrom(app, '192.0.2.5', 'victim', 'typo')).statusCode, 401);
    t.equal(
      (await tokenFrom(app, '192.0.2.5', 'victim', victim.clientSecret)).statusCode,
      200,
      `round ${round}: the right secret still works`,
    );
  }
});

t.test('throttled answers are held back (the tarpit) and logged at most once a second', async (t) => {
  const { app, logs } = await setup(t, { failuresPerClientAndAddress: 1, throttleDelayMs: 300 });
  await tokenFrom(app, '192.0.2.77', 'victim', 'wrong');
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 20 }, () => tokenFrom(app, '192.0.2.77', 'victim', 'wrong')));
  t.ok(
    answers.every((answer) => answer.statusCode === 429),
    'all throttled',
  );
  t.ok(Date.now() - started >= 290, 'each answer waited the tarpit delay');
  const lines = logs.lines().filter((line) => line.msg === 'caller over its failure budget');
  t.ok(lines.length >= 1 && lines.length <= 2, `the throttling is logged, but not 20 times (${lines.length})`);
});

t.test('argon2 admission: a full queue answers 503 without queueing; a recognised secret never waits', async (t) => {
  const { app, victim } = await setup(t, {
    argon2Concurrency: 1,
    argon2Queue: 1,
  });
  // The victim's secret is verified once and remembered from then on.
  t.equal((await tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret)).statusCode, 200);

  // Fill admission as a flood would (one verification running, one waiting) and keep it
  // full: what happens next does not depend on how fast this machine runs argon2.
  let release = () => {};
  const busy = new Promise<void>((resolve) => {
    release = resolve;
  });
  const running = app.portier.admission.run(() => busy);
  const waiting = app.portier.admission.run(async () => {});
  t.same(app.portier.admission.load, { running: 1, waiting: 1 });

  const before = await argon2Count(app);
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFrom(app, `198.51.100.${i + 1}`, `guess-${i}`, 'wrong')));
  const refused = answers.filter((answer) => answer.statusCode === 503);
  t.equal(refused.length, 20, 'wrong secrets that would find the queue full are refused at once');
  t.equal(await argon2Count(app), before, 'at no argon2 cost');
  t.ok(
    Array.from({ length: 20 }, (_, i) => `guess-${i}`).every((id) => app.portier.directory.mayNeedArgon2(id)),
    'and without looking the made-up client_ids up (a lookup would have cached them)',
  );
  const legit = await tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret);
  t.equal(legit.statusCode, 200, 'a recognised secret gets its token while argon2 is busy');
  app.portier.directory.invalidate();
  const afterChange = await tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret);
  t.equal(afterChange.statusCode, 200, 'also once its record has been dropped (any admin change does that): its secret is remembered');

  release();
  await Promise.all([running, waiting]);
  t.equal((await tokenFrom(app, '198.51.100.99', 'guess-x', 'wrong')).statusCode, 401, 'once there is room, secrets are verified again');
  for (const answer of refused.slice(0, 1)) {
    t.same(answer.json(), {
      error: 'temporarily_unavailable',
      error_description: 'the server is temporarily unable to handle the request; retry later',
    });
    t.equal(answer.headers['retry-after'], '1');
  }
});

t.test("a full queue's 503 is held back like a 429, and is no refusal of the client", async (t) => {
  const { app, logs, database } = await setup(t, { argon2Concurrency: 1, argon2Queue: 0, throttleDelayMs: 300 });
  let release = () => {};
  const running = app.portier.admission.run(() => new Promise<void>((resolve) => (release = resolve)));
  t.teardown(() => release());
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => tokenFrom(app, `198.51.100.${i + 1}`, `guess-${i}`, 'wrong')));
  t.same(
    answers.map((answer) => answer.statusCode),
    [503, 503, 503, 503, 503],
  );
  t.ok(Date.now() - started >= 290, 'each answer waited the tarpit delay: a flooding connection cannot ask again at once');
  t.equal(logs.lines().filter((line) => line.msg === 'request refused').length, 0, 'not logged as a refusal');
  release();
  await running;
  const audited = await database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  t.equal(audited.length, 0, 'nor audited');
});

t.test('a misplaced secret never reaches the log or the audit trail', async (t) => {
  const { app, logs, database, victim } = await setup(t);
  const secret = victim.clientSecret;
  const requests = [
    // id and secret swapped in Basic
    tokenFrom(app, '192.0.2.20', secret, 'victim'),
    // the secret as client_id in the body
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.21',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: secret, client_secret: 'x' }).toString(),
    }),
    // the secret pasted into other parameters
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.22',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('victim', secret) },
      payload: new URLSearchParams({ grant_type: 'client_credentials', scope: `events:read ${secret}` }).toString(),
    }),
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.23',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('victim', secret) },
      payload: new URLSearchParams({ grant_type: secret }).toString(),
    }),
    app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.24',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('victim', secret) },
      payload: new URLSearchParams({ grant_type: 'client_credentials', audience: `https://x.example/${secret}` }).toString(),
    }),
  ];
  for (const response of await Promise.all(requests))
    t.ok(response.statusCode >= 400 && response.statusCode < 500, `refused: ${response.statusCode}`);
  const rows = await eventually(
    () => database.db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied')),
    (found) => found.length >= 5,
  );
  t.ok(rows.length >= 5, 'every refusal is audited');
  const text = logs.text();
  t.ok(logs.lines().filter((line) => line.msg === 'request refused').length >= 5, 'and logged');
  // The random part: the prefix and the credential id are no secret (and stay in what is redacted).
  const secretBody = secret.split('_')[3] ?? secret;
  t.notOk(text.includes(secretBody), 'the secret is not in the log');
  t.notOk(JSON.stringify(rows).includes(secretBody), 'nor in the audit trail');
  const swapped = rows.find((row) => row.ip === '192.0.2.20');
  t.match(
    swapped?.details,
    { presented_client_id: { fingerprint: /^[0-9a-f]{12}$/, length: secret.length } },
    'a client_id that names no client: a fingerprint and its length',
  );
  t.equal(swapped?.clientId, null);
});

t.test('other parameter values are logged truncated', async (t) => {
  const { app, logs, victim } = await setup(t);
  const long = `https://${'x'.repeat(300)}.example`;
  const response = await app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('victim', victim.clientSecret) },
    payload: new URLSearchParams({ grant_type: 'client_credentials', resource: long }).toString(),
  });
  t.equal(response.statusCode, 400);
  const line = logs.lines().find((entry) => entry.msg === 'request refused');
  t.ok(line !== undefined, 'the refusal is logged');
  t.ok(String(line?.reason).length < 120, `the reason quotes the value cut short (${String(line?.reason).length} characters)`);
  t.notOk(logs.text().includes('x'.repeat(100)), 'the whole value is nowhere in the log');
});

t.test("a cold instance's first burst: parallel requests with the same right secret are one argon2id run, all 200", async (t) => {
  // A queue that twenty distinct verifications would overflow: one running, two waiting.
  const { app, victim } = await setup(t, { argon2Concurrency: 1, argon2Queue: 2 });
  t.ok(app.portier.directory.mayNeedArgon2('victim'), 'the instance has not verified the client yet');
  const before = await argon2Count(app);
  const answers = await Promise.all(Array.from({ length: 20 }, () => tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret)));
  t.same(
    answers.map((answer) => answer.statusCode),
    Array(20).fill(200),
    'all twenty get a token',
  );
  t.equal((await argon2Count(app)) - before, 1, 'with exactly one argon2id verification');
});

t.test('the merge gives wrong secrets nothing: each distinct one is verified, and still counts as a failure', async (t) => {
  const { app, victim } = await setup(t, { argon2Concurrency: 1, argon2Queue: 40, failuresPerClientAndAddress: 1000 });
  const before = await argon2Count(app);
  // Well-formed wrong secrets of the victim's credential (a wrong checksum would cost nothing).
  const named = readPresentedSecret(victim.clientSecret);
  const credentialId = named.form === 'named' ? named.credentialId : '';
  const wrong = Array.from({ length: 10 }, () => generateSelfIdentifyingSecret(credentialId));
  const answers = await Promise.all([
    ...wrong.map((secret) => tokenFrom(app, '192.0.2.10', 'victim', secret)),
    tokenFrom(app, '192.0.2.10', 'victim', victim.clientSecret),
  ]);
  t.same(
    answers.map((answer) => answer.statusCode),
    [...Array(10).fill(401), 200],
    'wrong secrets in flight beside the right one are refused; the right one gets its token',
  );
  t.equal((await argon2Count(app)) - before, 11, 'one verification for each distinct secret');
  for (let i = 1; i <= 2; i++) {
    t.equal((await tokenFrom(app, '192.0.2.10', 'victim', wrong[0] ?? '')).statusCode, 401);
    t.equal((await argon2Count(app)) - before, 11 + i, 'a failure is not remembered: the same wrong secret is verified again');
  }
});
