import { eq } from 'drizzle-orm';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import type { Database } from '../../src/db/connect.js';
import { signingKeys } from '../../src/db/schema.js';
import { KeyCache } from '../../src/keys/cache.js';
import { DEFAULT_PUBLICATION_LEAD_SECONDS, JWKS_MAX_AGE_SECONDS } from '../../src/keys/publication.js';
import { requestRotation } from '../../src/keys/rotation.js';
import { rotationSettings } from '../../src/keys/settings.js';
import { expectInvalid, expectProblem } from '../expect.js';
import {
  ADMIN_ID,
  ADMIN_SECRET,
  addService,
  basicAuth,
  buildWithAdmin,
  eventually,
  ISSUER,
  postToken,
  runCli,
  type TestServer,
} from '../helpers.js';

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const DELAY_MS = DEFAULT_PUBLICATION_LEAD_SECONDS * 1000;
const DAY_MS = 86_400_000;

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
interface KeyItem {
  kid: string;
  status: string;
  activates_at: string | null;
  earliest_activation: string | null;
  retired_at: string | null;
  publish_until: string | null;
}
interface RotationBody {
  kid: string;
  status: string;
  activates_at: string;
  withdrawn: string[];
  items: KeyItem[];
}

/** An admin server with one service and one client granted it (the client secret returned). */
async function setup(t: Test, options: Parameters<typeof buildWithAdmin>[1] = {}): Promise<{ server: Server; secret: string }> {
  const server = await buildWithAdmin(t, options);
  await addService(server.database, EVENTS);
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'vendor',
    name: 'Vendor',
    owner: 'user-1',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(created.statusCode, 201, 'client created');
  return { server, secret: (created.json() as { client_secret: string }).client_secret };
}

async function issue(server: TestServer, secret: string): Promise<string> {
  const response = await postToken(
    server.app,
    { grant_type: 'client_credentials', resource: EVENTS.audience },
    { authorization: basicAuth('vendor', secret) },
  );
  if (response.statusCode !== 200) throw new Error(`token request failed: ${response.statusCode} ${response.body}`);
  return (response.json() as { access_token: string }).access_token;
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;

async function jwks(server: TestServer) {
  const response = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return { response, keys: (response.json() as { keys: JWK[] }).keys };
}

async function listKeys(server: Server, bearer?: string): Promise<KeyItem[]> {
  return ((await server.admin('GET', '/admin/keys', undefined, bearer)).json() as { items: KeyItem[] }).items;
}

async function auditActions(server: Server, action: string, bearer?: string) {
  const response = await server.admin('GET', `/admin/audit-events?action=${action}`, undefined, bearer);
  return (response.json() as { items: Array<{ action: string; actor: { client_id: string }; details: Record<string, unknown> }> }).items;
}

async function introspect(server: TestServer, token: string): Promise<boolean> {
  const response = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { authorization: basicAuth(ADMIN_ID, ADMIN_SECRET), 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token }).toString(),
  });
  return (response.json() as { active: boolean }).active;
}

/**
 * A resource server as strict as the standards allow: it fetches the JWKS, keeps it for
 * the full max-age of the response (or for `keepMs`, as verifiers that ignore the max-age
 * do: Google's Java verifier keeps keys for an hour), and never refetches before that,
 * not even for an unknown kid. Its time is the server's (moved) clock.
 */
function cachingVerifier(server: TestServer, keepMs?: number) {
  let cached: { keySet: ReturnType<typeof createLocalJWKSet>; fetchedAt: number; maxAgeMs: number } | undefined;
  let fetches = 0;
  const refresh = async () => {
    const { response, keys } = await jwks(server);
    const maxAge = /max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1];
    if (maxAge === undefined) throw new Error('the JWKS response has no max-age');
    cached = { keySet: createLocalJWKSet({ keys }), fetchedAt: server.clock.now(), maxAgeMs: keepMs ?? Number(maxAge) * 1000 };
    fetches++;
  };
  return {
    get fetches() {
      return fetches;
    },
    refresh,
    async verify(token: string) {
      if (cached === undefined || server.clock.now() - cached.fetchedAt >= cached.maxAgeMs) await refresh();
      if (cached === undefined) throw new Error('no JWKS');
      return jwtVerify(token, cached.keySet, { issuer: ISSUER, audience: EVENTS.audience, currentDate: new Date(server.clock.now()) });
    },
  };
}

t.test('the JWKS max-age and the publication delay agree', async (t) => {
  const { server } = await setup(t);
  const { response } = await jwks(server);
  t.equal(response.headers['cache-control'], `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
  t.ok(DEFAULT_PUBLICATION_LEAD_SECONDS > JWKS_MAX_AGE_SECONDS, 'a new key is published longer than any JWKS is cached');
});

t.test('rotate: 202 with activates_at, then the switch on its own', async (t) => {
  const { server, secret } = await setup(t);
  const oldKid = kidOf(await issue(server, secret));

  const first = await server.admin('POST', '/admin/keys/rotate');
  t.equal(first.statusCode, 202);
  const scheduled = first.json() as RotationBody;
  t.equal(scheduled.status, 'next');
  t.same(scheduled.withdrawn, []);
  const activatesAt = Date.parse(scheduled.activates_at);
  t.ok(Math.abs(activatesAt - (server.clock.now() + DELAY_MS)) < 5000, 'activates a publication delay from now');
  t.same(scheduled.items.find((key) => key.kid === scheduled.kid)?.status, 'next', 'listed as next');
  t.ok(
    scheduled.items.every((key) => key.activates_at !== null),
    'every key has activates_at',
  );
  t.ok(
    (await jwks(server)).keys.some((key) => key.kid === scheduled.kid),
    'published at once',
  );

  const again = await server.admin('POST', '/admin/keys/rotate');
  t.equal(again.statusCode, 202, 'asking again before the time: still 202');
  t.equal((again.json() as RotationBody).kid, scheduled.kid, 'the same next key, not another one');
  t.equal((await listKeys(server)).length, 2);

  server.clock.advance(DELAY_MS - 10_000);
  t.equal(kidOf(await issue(server, secret)), oldKid, 'shortly before activates_at: the old key signs');
  server.clock.advance(10_000);
  t.equal(kidOf(await issue(server, secret)), scheduled.kid, 'at activates_at: the new key signs, with no request to switch');
  const keys = await listKeys(server);
  t.same(keys.find((key) => key.kid === oldKid)?.status, 'retired');
  t.same(keys.find((key) => key.kid === scheduled.kid)?.status, 'active');
  const rotated = await auditActions(server, 'key.rotated');
  t.equal(rotated.length, 1, 'one key.rotated event');
  t.equal(rotated[0]?.actor.client_id, 'system', 'made by Portier itself');
  t.equal((await auditActions(server, 'key.scheduled'))[0]?.actor.client_id, ADMIN_ID, 'key.scheduled: the admin who asked');
});

t.test('rotate: 200 when a next key has been published long enough but has not taken over yet', async (t) => {
  const { server } = await setup(t);
  const settings = rotationSettings(server.config);
  const actor = { clientId: 'test', sub: null };
  const now = server.clock.now();
  const scheduled = await requestRotation(server.database, settings, new Date(now), actor);
  t.equal(scheduled.status, 'next', 'no next key yet: one is made (202)');
  // No instance loaded its keys in between (nothing promoted it): the request itself switches.
  const later = new Date(now + DELAY_MS);
  const switched = await requestRotation(server.database, settings, later, actor);
  t.same({ status: switched.status, kid: switched.kid }, { status: 'active', kid: scheduled.kid }, 'the due key takes over (200)');
  const rows = await server.database.db.select().from(signingKeys);
  t.same(
    rows.filter((row) => row.status === 'active').map((row) => row.kid),
    [scheduled.kid],
  );
  t.equal(rows.filter((row) => row.status === 'next').length, 0);
});

t.test('a verifier that caches the JWKS for its full max-age accepts every token across a rotation', async (t) => {
  const { server, secret } = await setup(t);
  const verifier = cachingVerifier(server);
  const tokens: string[] = [await issue(server, secret)];
  // The worst case: the verifier fetched the JWKS just before the next key was published.
  await verifier.refresh();
  t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202);
  const kids = new Set<string | undefined>();
  // Twenty minutes in steps of 20 s, a token at every step, each checked by the verifier.
  for (let step = 0; step < 60; step++) {
    const token = await issue(server, secret);
    tokens.push(token);
    kids.add(kidOf(token));
    const verified = await verifier.verify(token).then(
      () => true,
      (error: Error) => error.message,
    );
    if (verified !== true) t.fail(`step ${step}: a token with kid ${kidOf(token)} was refused: ${verified}`);
    server.clock.advance(20_000);
  }
  t.equal(kids.size, 2, 'tokens of both keys were issued');
  for (const token of tokens) await t.resolves(verifier.verify(token), 'every token so far still verifies');
  t.ok(
    verifier.fetches <= 1 + Math.ceil((60 * 20) / JWKS_MAX_AGE_SECONDS),
    `the verifier fetched only on expiry (${verifier.fetches} times)`,
  );
});

t.test('two instances on one database: the switch happens once', async (t) => {
  const { server: a, secret } = await setup(t);
  const b = await buildWithAdmin(t, { database: a.database });
  const oldKid = kidOf(await issue(b, secret));
  const scheduled = (await a.admin('POST', '/admin/keys/rotate')).json() as RotationBody;
  t.ok(
    (
      await eventually(
        () => jwks(b),
        ({ keys }) => keys.some((key) => key.kid === scheduled.kid),
        1000,
      )
    ).keys.some((key) => key.kid === scheduled.kid),
    'B publishes the next key within a second',
  );
  t.equal(kidOf(await issue(b, secret)), oldKid, 'B still signs with the old key');

  a.clock.advance(DELAY_MS);
  b.clock.advance(DELAY_MS);
  // Both notice at once that the key is due.
  const tokens = await Promise.all([...Array(6)].map((_, i) => issue(i % 2 === 0 ? a : b, secret)));
  t.same(new Set(tokens.map(kidOf)), new Set([scheduled.kid]), 'both instances sign with the new key');
  const token = await a.tokenFor();
  t.equal((await auditActions(a, 'key.rotated', token)).length, 1, 'promoted once');
  const rows = await a.database.db.select().from(signingKeys);
  t.same(
    rows.filter((row) => row.status === 'active').map((row) => row.kid),
    [scheduled.kid],
    'one active key',
  );
  t.same(rows.find((row) => row.kid === oldKid)?.status, 'retired');
});

t.test('emergency rotation: a new key at once, the old one withdrawn at once', async (t) => {
  const { server, secret } = await setup(t);
  const b = await buildWithAdmin(t, { database: server.database });
  const oldToken = await issue(server, secret);
  const oldKid = kidOf(oldToken);
  t.ok(await introspect(server, oldToken), 'before: the token is active');
  // A pending next key is withdrawn too: whatever exposed the active key may have exposed it.
  const pending = (await server.admin('POST', '/admin/keys/rotate')).json() as RotationBody;

  const response = await server.admin('POST', '/admin/keys/rotate', { emergency: true });
  t.equal(response.statusCode, 200);
  const body = response.json() as RotationBody;
  t.equal(body.status, 'active');
  t.same(body.withdrawn.sort(), [oldKid, pending.kid].sort(), 'the active and the next key are withdrawn');
  t.not(body.kid, oldKid);
  t.not(body.kid, pending.kid, 'a fresh key, not the pending one');
  for (const kid of body.withdrawn) {
    const item = body.items.find((key) => key.kid === kid);
    t.equal(item?.status, 'retired');
    t.equal(item?.publish_until, item?.retired_at, 'publish_until = now');
  }

  t.same(
    (await jwks(server)).keys.map((key) => key.kid),
    [body.kid],
    'the JWKS has the new key only',
  );
  t.equal(kidOf(await issue(server, secret)), body.kid, 'new tokens: the new key, at once');
  t.notOk(await introspect(server, oldToken), 'introspection: a token of the withdrawn key is no longer active');
  t.equal((await server.admin('GET', '/admin/keys')).statusCode, 401, 'an admin token of the withdrawn key no longer opens the admin API');
  t.notOk(
    await eventually(
      () => introspect(b, oldToken),
      (active) => !active,
      1000,
    ),
    'the other instance too, within a second',
  );
  t.equal((await b.admin('GET', '/admin/keys')).statusCode, 401, 'the other instance refuses the old admin token');

  const fresh = await server.tokenFor();
  const events = await auditActions(server, 'key.emergency_rotated', fresh);
  t.equal(events.length, 1, 'audited with an action of its own');
  t.equal(events[0]?.actor.client_id, ADMIN_ID);
  t.same(events[0]?.details.kid, body.kid);
});

t.test('a scheduled switch that cannot reach the database waits, and the key set in hand keeps signing', async (t) => {
  const { server } = await setup(t);
  let down = false;
  // The database answers reads but the switch (under the keys lock) fails, as in an outage.
  const flaky: Database = {
    ...server.database,
    exclusive: (name, fn) => (down ? Promise.reject(new Error('connection refused')) : server.database.exclusive(name, fn)),
  };
  let now = Date.now();
  const cache = new KeyCache(flaky, rotationSettings(server.config), () => now);
  const oldKid = (await cache.get()).active.kid;
  const next = await requestRotation(server.database, rotationSettings(server.config), new Date(now), { clientId: 'test', sub: null });
  cache.invalidate();
  t.equal((await cache.get()).active.kid, oldKid);

  now += DELAY_MS;
  down = true;
  t.equal((await cache.get()).active.kid, oldKid, 'the switch is due but fails: the old key goes on signing, no error');
  down = false;
  t.equal((await cache.get()).active.kid, next.kid, 'once the database is back, the next use switches');
});

t.test('bad rotate bodies are 400, never 500', async (t) => {
  const { server } = await setup(t);
  for (const body of [{ emergency: 'yes' }, { emergency: 1 }, { urgent: true }, [], 'emergency']) {
    const response = await server.admin('POST', '/admin/keys/rotate', body);
    t.equal(response.statusCode, 400, `${JSON.stringify(body)}: 400`);
  }
  const asNull = await server.admin('POST', '/admin/keys/rotate', null);
  t.equal(asNull.statusCode, 202, 'null: a normal rotation');
  t.equal(
    (await server.admin('POST', '/admin/keys/rotate', { emergency: false })).statusCode,
    202,
    'emergency: false is a normal rotation',
  );
  t.equal((await listKeys(server)).length, 2, 'no key was made by the refused requests');
});

t.test('KEY_ROTATION_DAYS: a next key is published when the active key is old enough, then takes over', async (t) => {
  const { server, secret } = await setup(t, { config: { keyRotationDays: 30 } });
  const b = await buildWithAdmin(t, { database: server.database, config: { keyRotationDays: 30 } });
  const oldKid = kidOf(await issue(server, secret));
  server.clock.advance(29 * DAY_MS);
  b.clock.advance(29 * DAY_MS);
  t.equal((await jwks(server)).keys.length, 1, 'after 29 days: still one key');

  server.clock.advance(DAY_MS);
  b.clock.advance(DAY_MS);
  await Promise.all([jwks(server), jwks(b)]);
  const published = (await jwks(server)).keys;
  t.equal(published.length, 2, 'after 30 days: a next key is published');
  t.equal((await jwks(b)).keys.length, 2, 'by both instances, the same one');
  t.equal(kidOf(await issue(server, secret)), oldKid, 'the old key still signs');
  const token = await server.tokenFor();
  const scheduled = await auditActions(server, 'key.scheduled', token);
  t.equal(scheduled.length, 1, 'scheduled once');
  t.equal(scheduled[0]?.actor.client_id, 'system');
  t.equal(scheduled[0]?.details.automatic, true);

  server.clock.advance(DELAY_MS);
  b.clock.advance(DELAY_MS);
  const newKid = published.find((key) => key.kid !== oldKid)?.kid;
  t.equal(kidOf(await issue(b, secret)), newKid, 'a publication delay later, the new key signs');
  t.equal(kidOf(await issue(server, secret)), newKid);
  t.equal((await auditActions(server, 'key.rotated', token)).length, 1, 'promoted once');
  t.equal((await listKeys(server, token)).length, 2, 'no further key yet: the new one is young');
});

/** The CLI on a server's database, as an operator runs it. */
const cli = (database: Database, ...args: string[]) => runCli(database, args);

t.test('portier keys rotate [--emergency] and keys list', async (t) => {
  const { server } = await setup(t);
  const { database } = server;
  const scheduled = await cli(database, 'keys', 'rotate');
  t.equal(scheduled.code, 0);
  const next = JSON.parse(scheduled.stdout) as RotationBody;
  t.equal(next.status, 'next');
  t.match(scheduled.stderr, /starts signing at/);

  // Published long enough, and no server promoted it yet: `keys rotate` switches (as the API's 200).
  await database.db
    .update(signingKeys)
    .set({ activatesAt: new Date(Date.now() - 1000) })
    .where(eq(signingKeys.kid, next.kid));
  const switched = JSON.parse((await cli(database, 'keys', 'rotate')).stdout) as RotationBody;
  t.same({ status: switched.status, kid: switched.kid }, { status: 'active', kid: next.kid });

  const emergency = await cli(database, 'keys', 'rotate', '--emergency');
  t.equal(emergency.code, 0);
  const body = JSON.parse(emergency.stdout) as RotationBody;
  t.same(body.withdrawn, [next.kid]);
  t.match(emergency.stderr, /withdrawn from the JWKS/);

  const listed = JSON.parse((await cli(database, 'keys', 'list')).stdout) as { items: KeyItem[] };
  t.same(listed.items.map((key) => key.status).sort(), ['active', 'retired', 'retired']);
  t.ok(
    listed.items.every((key) => typeof key.activates_at === 'string'),
    'every key has its dates',
  );
});

const HOUR_MS = 3_600_000;

/**
 * Issues a token every five minutes for `steps` steps and has `verifier` check each one;
 * returns the refusals ("step: reason"). The rotation is asked for at the first step.
 */
async function rotateUnderVerifier(
  t: Test,
  server: Server,
  secret: string,
  verifier: ReturnType<typeof cachingVerifier>,
  steps: number,
): Promise<{ refusals: string[]; kids: Set<string | undefined> }> {
  await issue(server, secret);
  // The worst case: the verifier fetched the JWKS just before the next key was published.
  await verifier.refresh();
  t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202, 'a next key is published');
  const refusals: string[] = [];
  const kids = new Set<string | undefined>();
  for (let step = 0; step < steps; step++) {
    const token = await issue(server, secret);
    kids.add(kidOf(token));
    const verified = await verifier.verify(token).then(
      () => true,
      (error: Error) => error.message,
    );
    if (verified !== true) refusals.push(`${step}: ${verified}`);
    server.clock.advance(5 * 60_000);
  }
  return { refusals, kids };
}

t.test('KEY_PUBLICATION_LEAD above an hour: a verifier that keeps the JWKS for an hour never fails across a rotation', async (t) => {
  const { server, secret } = await setup(t, { config: { keyPublicationLead: 3900 } });
  const verifier = cachingVerifier(server, HOUR_MS);
  // Three hours in steps of five minutes: the switch comes 65 minutes in.
  const { refusals, kids } = await rotateUnderVerifier(t, server, secret, verifier, 36);
  t.equal(kids.size, 2, 'tokens of both keys were issued');
  t.same(refusals, [], 'every token verified');
  t.ok(verifier.fetches <= 4, `the verifier fetched only when its hour was over (${verifier.fetches} times)`);
});

t.test('the default lead (6 minutes) is too short for a verifier that keeps the JWKS for an hour', async (t) => {
  const { server, secret } = await setup(t);
  const { refusals } = await rotateUnderVerifier(t, server, secret, cachingVerifier(server, HOUR_MS), 36);
  t.ok(refusals.length > 0, `it refuses the new key's tokens until its hour is over (${refusals.length} refusals)`);
  t.match(refusals[0], /no applicable key|no matching key|JWKSNoMatchingKey|matching key/i, 'for an unknown kid');
});

t.test('KEY_PUBLICATION_LEAD applies to rotations by the API, the CLI and KEY_ROTATION_DAYS', async (t) => {
  const lead = 7200;
  const { server } = await setup(t, { config: { keyPublicationLead: lead, keyRotationDays: 30 } });
  const viaApi = (await server.admin('POST', '/admin/keys/rotate')).json() as RotationBody;
  const listed = (await listKeys(server)).find((key) => key.kid === viaApi.kid);
  t.ok(Math.abs(Date.parse(viaApi.activates_at) - (server.clock.now() + lead * 1000)) < 5000, 'the API: the lead from the configuration');
  t.equal(
    listed?.earliest_activation,
    new Date(Date.parse(viaApi.activates_at) - (lead - JWKS_MAX_AGE_SECONDS) * 1000).toISOString(),
    'earliest_activation: the max-age after publication',
  );

  const emergency = await server.admin('POST', '/admin/keys/rotate', { emergency: true });
  t.equal(emergency.statusCode, 200);
  const cliEnv = { ISSUER, LOG_LEVEL: 'warn', KEY_PUBLICATION_LEAD: String(lead) };
  const before = Date.now();
  const viaCli = await runCli(server.database, ['keys', 'rotate'], cliEnv);
  t.equal(viaCli.code, 0, viaCli.stderr);
  const cliKey = JSON.parse(viaCli.stdout) as RotationBody;
  t.ok(Date.parse(cliKey.activates_at) >= before + lead * 1000, 'the CLI: the lead from its environment');

  // KEY_ROTATION_DAYS: the automatic rotation of the fresh emergency key, 30 days on.
  await server.database.db
    .update(signingKeys)
    .set({ status: 'retired', retiredAt: new Date(), publishUntil: new Date() })
    .where(eq(signingKeys.kid, cliKey.kid));
  server.app.portier.generation.changed();
  const token = await server.tokenFor();
  server.clock.advance(30 * DAY_MS);
  await jwks(server);
  const automatic = (await listKeys(server, await server.tokenFor())).find((key) => key.status === 'next');
  t.ok(automatic !== undefined, 'KEY_ROTATION_DAYS published a next key');
  t.ok(
    Math.abs(Date.parse(automatic?.activates_at ?? '') - (server.clock.now() + lead * 1000)) < 5000,
    'KEY_ROTATION_DAYS: the lead from the configuration',
  );
  t.ok(token, 'an admin token before the jump');
});

t.test('rotate with activate_after: one rotation, its own lead; bad values are 400 naming the field', async (t) => {
  const { server } = await setup(t);
  for (const activateAfter of [JWKS_MAX_AGE_SECONDS - 1, 30 * 86_400 + 1, 1.5, '600', -1, null]) {
    const response = await server.admin('POST', '/admin/keys/rotate', { activate_after: activateAfter });
    expectInvalid(t, response, ['/activate_after'], `activate_after ${JSON.stringify(activateAfter)}`);
  }
  expectInvalid(
    t,
    await server.admin('POST', '/admin/keys/rotate', { emergency: true, activate_after: 600 }),
    ['/activate_after'],
    'with emergency',
  );
  t.equal((await listKeys(server)).length, 1, 'no key was made by the refused requests');

  const response = await server.admin('POST', '/admin/keys/rotate', { activate_after: 86_400 });
  t.equal(response.statusCode, 202);
  const body = response.json() as RotationBody;
  t.ok(Math.abs(Date.parse(body.activates_at) - (server.clock.now() + DAY_MS)) < 5000, 'signs a day later');
  const scheduled = (await auditActions(server, 'key.scheduled'))[0];
  t.equal(scheduled?.details.activates_at, body.activates_at, 'audited with its time');

  const again = await server.admin('POST', '/admin/keys/rotate', { activate_after: 600 });
  t.match(expectProblem(t, again, 409).detail, /already published.*bring that one forward/);
  t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202, 'without activate_after: the pending key, as before');
  const smallest = await setup(t);
  const atMaxAge = await smallest.server.admin('POST', '/admin/keys/rotate', { activate_after: JWKS_MAX_AGE_SECONDS });
  t.equal(atMaxAge.statusCode, 202, 'the JWKS max-age itself is allowed');
});

t.test('bringing a next key forward: never before the JWKS max-age after publication, in force on every instance', async (t) => {
  const { server, secret } = await setup(t, { config: { keyPublicationLead: 86_400 } });
  const b = await buildWithAdmin(t, { database: server.database, config: { keyPublicationLead: 86_400 } });
  const oldKid = kidOf(await issue(server, secret));
  const next = (await server.admin('POST', '/admin/keys/rotate')).json() as RotationBody;
  const listed = next.items.find((key) => key.kid === next.kid);
  const earliest = Date.parse(listed?.earliest_activation ?? '');
  t.ok(Math.abs(earliest - (server.clock.now() + JWKS_MAX_AGE_SECONDS * 1000)) < 5000, 'earliest_activation: the max-age from now');
  t.equal(next.items.filter((key) => key.earliest_activation !== null).length, 1, 'only the next key has one');
  const activate = (kid: string, body?: unknown) => server.admin('POST', `/admin/keys/${kid}/activate`, body);

  expectInvalid(t, await activate(next.kid, { at: new Date(earliest - 1000).toISOString() }), ['/at'], 'before the earliest time');
  expectInvalid(
    t,
    await activate(next.kid, { at: new Date(Date.parse(next.activates_at) + 1000).toISOString() }),
    ['/at'],
    'after the planned time',
  );
  expectInvalid(t, await activate(next.kid, { at: 'tomorrow' }), ['/at'], 'not a date-time');
  expectInvalid(t, await activate(next.kid, { when: 'now' }), ['/when'], 'an unknown field');
  t.match(expectProblem(t, await activate('no-such-kid'), 404).detail, /no signing key no-such-kid/);
  t.match(expectProblem(t, await activate(String(oldKid)), 409).detail, /is active: only a next key/);

  const target = new Date(earliest + 600_000).toISOString();
  const moved = await activate(next.kid, { at: target });
  t.equal(moved.statusCode, 202, 'brought forward to a time of our choosing');
  t.equal((moved.json() as RotationBody).activates_at, target);
  const event = (await auditActions(server, 'key.brought_forward'))[0];
  t.same(event?.details, { kid: next.kid, from: next.activates_at, to: target }, 'audited: from and to');
  t.equal(event?.actor.client_id, ADMIN_ID);

  const soonest = await activate(next.kid);
  t.equal(soonest.statusCode, 202, 'without a time: as soon as allowed');
  t.equal((soonest.json() as RotationBody).activates_at, new Date(earliest).toISOString());
  // The other instance's key cache (what it signs by) learns the new time through the
  // cache generation, within a poll or two.
  t.equal(
    await eventually(
      async () => (await b.app.portier.keys.get()).timeline.changesAt,
      (changesAt) => changesAt === earliest,
    ),
    earliest,
    'the other instance switches at the new time',
  );

  server.clock.advance(JWKS_MAX_AGE_SECONDS * 1000 - 10_000);
  b.clock.advance(JWKS_MAX_AGE_SECONDS * 1000 - 10_000);
  t.equal(kidOf(await issue(b, secret)), oldKid, 'just before: the old key signs, on the other instance too');
  server.clock.advance(10_000);
  b.clock.advance(10_000);
  t.equal(kidOf(await issue(b, secret)), next.kid, 'at the new time the next key signs, on the other instance too, on its own');
  t.equal(kidOf(await issue(server, secret)), next.kid);
  t.match(expectProblem(t, await activate(next.kid), 409).detail, /is active/);
});

t.test('bringing forward a key whose earliest time has passed switches at once (200)', async (t) => {
  const { server, secret } = await setup(t, { config: { keyPublicationLead: 86_400 } });
  const next = (await server.admin('POST', '/admin/keys/rotate')).json() as RotationBody;
  server.clock.advance((JWKS_MAX_AGE_SECONDS + 60) * 1000);
  const response = await server.admin('POST', `/admin/keys/${next.kid}/activate`, {
    at: new Date(server.clock.now() - 5000).toISOString(),
  });
  t.equal(response.statusCode, 200, 'a time already past (but after the earliest): now');
  t.equal((response.json() as RotationBody).status, 'active');
  t.equal(kidOf(await issue(server, secret)), next.kid, 'the key signs at once');
  const fresh = await server.tokenFor();
  t.equal((await auditActions(server, 'key.rotated', fresh))[0]?.details.kid, next.kid, 'audited as a rotation too');
});

t.test('portier keys rotate --activate-after and keys activate', async (t) => {
  const { server } = await setup(t);
  const { database } = server;
  expectCliField(t, await cli(database, 'keys', 'rotate', '--activate-after', '10'), '/activate_after');
  expectCliField(t, await cli(database, 'keys', 'rotate', '--activate-after', 'an hour'), '/activate_after');
  expectCliField(t, await cli(database, 'keys', 'rotate', '--activate-after', '600', '--emergency'), '/activate_after');
  const before = Date.now();
  const rotated = await cli(database, 'keys', 'rotate', '--activate-after', '7200');
  t.equal(rotated.code, 0, rotated.stderr);
  const next = JSON.parse(rotated.stdout) as RotationBody;
  t.ok(
    Date.parse(next.activates_at) >= before + 7_200_000 && Date.parse(next.activates_at) < Date.now() + 7_200_000 + 1000,
    'two hours on',
  );

  expectCliField(t, await cli(database, 'keys', 'activate', next.kid, '--at', new Date(before).toISOString()), '/at');
  const missing = await cli(database, 'keys', 'activate');
  t.equal(missing.code, 1);
  t.match(missing.stderr, /missing the kid/);
  const earliest = next.items.find((key) => key.kid === next.kid)?.earliest_activation ?? '';
  const activated = await cli(database, 'keys', 'activate', next.kid);
  t.equal(activated.code, 0, activated.stderr);
  t.equal((JSON.parse(activated.stdout) as RotationBody).activates_at, earliest, 'as soon as allowed');
  t.match(activated.stderr, new RegExp(`key ${next.kid} is published and starts signing at ${earliest.replace(/\./g, '\\.')}`));
});

function expectCliField(t: Test, result: { code: number; stderr: string }, path: string): void {
  t.equal(result.code, 1, `${path}: exit code 1`);
  t.match(result.stderr, new RegExp(`^portier: ${path}: `), `${path}: the field is named`);
}
t.test(
  'a token of the longest lifetime a client may have stays verifiable after its key retires, whatever ACCESS_TOKEN_TTL says',
  async (t) => {
    const { server, secret } = await setup(t, { config: { accessTokenTtl: 300 } });
    server.clock.freeze();
    t.equal((await server.admin('PATCH', '/admin/clients/vendor', { access_token_ttl: 86_400 })).statusCode, 200);
    const token = await issue(server, secret);
    const settings = rotationSettings(server.config);
    t.equal(settings.maxTokenTtl, 86_400, 'retirement assumes the longest lifetime any token may have, not ACCESS_TOKEN_TTL');
    await requestRotation(server.database, settings, new Date(server.clock.now()), { clientId: 'test', sub: null });
    await requestRotation(server.database, settings, new Date(server.clock.now() + DELAY_MS), { clientId: 'test', sub: null });
    server.app.portier.generation.changed();
    // A minute before the token expires: its key must still be in the JWKS.
    server.clock.advance(DAY_MS - 60_000);
    const { keys } = await jwks(server);
    const { payload } = await jwtVerify(token, createLocalJWKSet({ keys }), { currentDate: new Date(server.clock.now()) });
    t.equal(payload.client_id, 'vendor', 'verified against the published keys');
    t.ok(
      keys.some((key) => key.kid === kidOf(token)),
      'the retired key is published',
    );
  },
);
