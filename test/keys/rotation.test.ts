import { eq } from 'drizzle-orm';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import type { Database } from '../../src/db/connect.js';
import { signingKeys } from '../../src/db/schema.js';
import { KeyCache } from '../../src/keys/cache.js';
import { JWKS_MAX_AGE_SECONDS, PUBLICATION_DELAY_SECONDS } from '../../src/keys/publication.js';
import { requestRotation } from '../../src/keys/rotation.js';
import { rotationSettings } from '../../src/keys/settings.js';
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
const DELAY_MS = PUBLICATION_DELAY_SECONDS * 1000;
const DAY_MS = 86_400_000;

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
interface KeyItem {
  kid: string;
  status: string;
  activates_at: string | null;
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
 * the full max-age of the response, and never refetches before that, not even for an
 * unknown kid. Its time is the server's (moved) clock.
 */
function cachingVerifier(server: TestServer) {
  let cached: { keySet: ReturnType<typeof createLocalJWKSet>; fetchedAt: number; maxAgeMs: number } | undefined;
  let fetches = 0;
  const refresh = async () => {
    const { response, keys } = await jwks(server);
    const maxAge = /max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1];
    if (maxAge === undefined) throw new Error('the JWKS response has no max-age');
    cached = { keySet: createLocalJWKSet({ keys }), fetchedAt: server.clock.now(), maxAgeMs: Number(maxAge) * 1000 };
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
  t.ok(PUBLICATION_DELAY_SECONDS > JWKS_MAX_AGE_SECONDS, 'a new key is published longer than any JWKS is cached');
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
  const asNull = await server.app.inject({
    method: 'POST',
    url: '/admin/keys/rotate',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    payload: 'null',
  });
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
