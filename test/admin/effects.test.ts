import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { DEFAULT_PUBLICATION_LEAD_SECONDS } from '../../src/keys/publication.js';
import { basicAuth, build, buildWithAdmin, eventually, ISSUER, postToken, type TestServer } from '../helpers.js';

// "Every change takes effect at once": each change made through the admin API is in force
// on the very next token request to the same instance, and on another instance on the same
// database after its next poll of the cache generation (every GENERATION_POLL_MS, 250 ms: so
// within a second). Everything goes through HTTP (inject): the admin API to change, the
// token endpoint to observe.
//
// How long the other instance takes is not asserted to the millisecond: on a loaded 2-core
// machine (CI runs a browser beside these tests) a timer can fire late. The waits allow a
// few seconds; what is checked is that the change arrives without anything else happening.
const PROPAGATION_LIMIT_MS = 5000;

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
type Response = Awaited<ReturnType<typeof postToken>>;

const EVENTS = { id: 'events', name: 'Events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', name: 'Billing', audience: 'https://billing.example', scopes: ['billing:read'] };

interface Client {
  clientId: string;
  secret: string;
}

/** A server with the two services and one client granted both, all made through the admin API. */
async function setup(t: Test, options: Parameters<typeof buildWithAdmin>[1] = {}): Promise<{ server: Server; client: Client }> {
  const server = await buildWithAdmin(t, options);
  for (const service of [EVENTS, BILLING])
    t.equal((await server.admin('POST', '/admin/services', service)).statusCode, 201, `service ${service.id}`);
  const response = await server.admin('POST', '/admin/clients', {
    client_id: 'vendor',
    name: 'Vendor',
    owner: 'user-1',
    grants: [
      { service: 'events', scopes: ['events:read', 'events:write'] },
      { service: 'billing', scopes: ['billing:read'] },
    ],
  });
  t.equal(response.statusCode, 201, 'client created');
  return { server, client: { clientId: 'vendor', secret: (response.json() as { client_secret: string }).client_secret } };
}

function ask(server: TestServer, client: Client, form: Record<string, string> = {}): Promise<Response> {
  return postToken(
    server.app,
    { grant_type: 'client_credentials', resource: EVENTS.audience, ...form },
    { authorization: basicAuth(client.clientId, client.secret) },
  );
}

function expectIssued(t: Test, response: Response, label: string): void {
  t.equal(response.statusCode, 200, `${label}: 200`);
}

function expectRefused(t: Test, response: Response, error: string, label: string): void {
  t.equal(response.statusCode, error === 'invalid_client' ? 401 : 400, `${label}: ${error === 'invalid_client' ? 401 : 400}`);
  t.equal((response.json() as { error: string }).error, error, `${label}: ${error}`);
}

async function change(
  t: Test,
  server: Server,
  method: 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await server.admin(method, url, body);
  t.ok(response.statusCode === 200 || response.statusCode === 204, `${method} ${url}: ${response.statusCode}`);
  return response.statusCode === 204 ? {} : (response.json() as Record<string, unknown>);
}

t.test('disable → 401 at once, enable → 200 at once', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client), 'before');
  expectIssued(t, await ask(server, client), 'before, from the caches');
  await change(t, server, 'POST', '/admin/clients/vendor/disable');
  expectRefused(t, await ask(server, client), 'invalid_client', 'disabled');
  await change(t, server, 'POST', '/admin/clients/vendor/enable');
  expectIssued(t, await ask(server, client), 'enabled again');

  // The bulk endpoint takes effect at once too.
  t.equal((await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['vendor'] })).statusCode, 200);
  expectRefused(t, await ask(server, client), 'invalid_client', 'bulk disabled');
  t.equal((await server.admin('POST', '/admin/clients/bulk', { action: 'enable', client_ids: ['vendor'] })).statusCode, 200);
  expectIssued(t, await ask(server, client), 'bulk enabled');
});

t.test('delete → 401 at once; a re-created client_id does not revive the old secret', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client), 'before');
  await change(t, server, 'DELETE', '/admin/clients/vendor');
  expectRefused(t, await ask(server, client), 'invalid_client', 'deleted');

  const again = await server.admin('POST', '/admin/clients', {
    client_id: 'vendor',
    name: 'Vendor again',
    owner: 'user-1',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(again.statusCode, 201);
  expectRefused(t, await ask(server, client), 'invalid_client', 'old secret, new client of that id');
  expectIssued(
    t,
    await ask(server, { clientId: 'vendor', secret: (again.json() as { client_secret: string }).client_secret }),
    'new secret',
  );
});

t.test('new secret: the old one is refused at once, the new one works', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client), 'old, first use');
  expectIssued(t, await ask(server, client), 'old, remembered');
  const result = await change(t, server, 'POST', '/admin/clients/vendor/secret');
  t.equal(result.previous_secret_expires_at, null, 'no grace period');
  const fresh = { ...client, secret: String(result.client_secret) };
  expectRefused(t, await ask(server, client), 'invalid_client', 'old secret');
  expectIssued(t, await ask(server, fresh), 'new secret');
  expectIssued(t, await ask(server, fresh), 'new secret again');
  expectRefused(t, await ask(server, client), 'invalid_client', 'old secret still refused');
});

t.test('new secret with a grace period: both work, then the old one stops', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client), 'old, before');
  const result = await change(t, server, 'POST', '/admin/clients/vendor/secret', { previous_secret_valid_for: 1 });
  const fresh = { ...client, secret: String(result.client_secret) };
  const graceEnds = Date.parse(String(result.previous_secret_expires_at));
  t.ok(Number.isFinite(graceEnds), 'previous_secret_expires_at is a date');
  // The old one first: the grace period is short.
  expectIssued(t, await ask(server, client), 'old, during grace');
  expectIssued(t, await ask(server, fresh), 'new, during grace');

  // Once the grace period is over, the old one, remembered as verified, is refused all
  // the same.
  server.clock.advance(Math.max(0, graceEnds - Date.now()) + 500);
  expectRefused(t, await ask(server, client), 'invalid_client', 'old, after grace');
  expectIssued(t, await ask(server, fresh), 'new, after grace');
});

t.test('ip_ranges: excluding the caller → 401, including it again → 200', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client), 'no ranges');
  await change(t, server, 'PATCH', '/admin/clients/vendor', { ip_ranges: ['192.0.2.0/24', '2001:db8::/32'] });
  expectRefused(t, await ask(server, client), 'invalid_client', 'outside the ranges');
  await change(t, server, 'PATCH', '/admin/clients/vendor', { ip_ranges: ['192.0.2.0/24', '127.0.0.0/8'] });
  expectIssued(t, await ask(server, client), 'inside the ranges');
  await change(t, server, 'PATCH', '/admin/clients/vendor', { ip_ranges: ['10.0.0.1'] });
  expectRefused(t, await ask(server, client), 'invalid_client', 'a single other address');
  await change(t, server, 'PATCH', '/admin/clients/vendor', { ip_ranges: [] });
  expectIssued(t, await ask(server, client), 'no ranges again');
});

t.test('grants: a removed grant → invalid_target, a removed scope → invalid_scope', async (t) => {
  const { server, client } = await setup(t);
  expectIssued(t, await ask(server, client, { resource: BILLING.audience }), 'billing granted');
  expectIssued(t, await ask(server, client, { scope: 'events:write' }), 'events:write granted');

  await change(t, server, 'PATCH', '/admin/clients/vendor', { grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }] });
  expectRefused(t, await ask(server, client, { resource: BILLING.audience }), 'invalid_target', 'billing no longer granted');
  expectIssued(t, await ask(server, client), 'events still granted');

  await change(t, server, 'PATCH', '/admin/clients/vendor', { grants: [{ service: 'events', scopes: ['events:read'] }] });
  expectRefused(t, await ask(server, client, { scope: 'events:write' }), 'invalid_scope', 'events:write removed');
  expectRefused(t, await ask(server, client, { scope: 'events:read events:write' }), 'invalid_scope', 'read + removed write');
  const read = await ask(server, client);
  expectIssued(t, read, 'events:read still granted');
  t.equal((read.json() as { scope: string }).scope, 'events:read', 'only the remaining scope');

  await change(t, server, 'PATCH', '/admin/clients/vendor', { grants: [{ service: 'billing', scopes: ['billing:read'] }] });
  expectRefused(t, await ask(server, client), 'invalid_target', 'events no longer granted');
  expectIssued(t, await ask(server, client, { resource: BILLING.audience }), 'billing granted again');
});

t.test('expires_at: works until then, refused after', async (t) => {
  const { server, client } = await setup(t);
  const expiresAt = new Date(Date.now() + 3000).toISOString();
  const patched = await change(t, server, 'PATCH', '/admin/clients/vendor', { expires_at: expiresAt });
  t.equal(patched.expires_at, expiresAt);
  expectIssued(t, await ask(server, client), 'before expiry');
  expectIssued(t, await ask(server, client), 'before expiry, remembered');

  server.clock.advance(Math.max(0, Date.parse(expiresAt) - Date.now()) + 300);
  expectRefused(t, await ask(server, client), 'invalid_client', 'after expiry');
  t.equal((await server.admin('GET', '/admin/clients/vendor')).json().status, 'expired', 'status expired');

  // Lifting the expiry brings it back at once.
  await change(t, server, 'PATCH', '/admin/clients/vendor', { expires_at: null });
  expectIssued(t, await ask(server, client), 'expiry lifted');
});

t.test('another instance on the same database sees each change after its next poll', async (t) => {
  const { server: a, client } = await setup(t);
  const b = await build(t, { database: a.database });
  const onB = (who: Client = client) => ask(b, who);
  const ok = (response: Response) => response.statusCode === 200;
  const refused = (response: Response) => response.statusCode === 401;
  // B has the client cached (and its secret remembered) before every change.
  expectIssued(t, await onB(), 'B before');
  expectIssued(t, await onB(), 'B before, remembered');

  await change(t, a, 'POST', '/admin/clients/vendor/disable');
  expectRefused(t, await eventually(onB, refused, PROPAGATION_LIMIT_MS), 'invalid_client', 'B: disabled');
  await change(t, a, 'POST', '/admin/clients/vendor/enable');
  expectIssued(t, await eventually(onB, ok, PROPAGATION_LIMIT_MS), 'B: enabled');

  const result = await change(t, a, 'POST', '/admin/clients/vendor/secret');
  const fresh = { ...client, secret: String(result.client_secret) };
  expectRefused(t, await eventually(onB, refused, PROPAGATION_LIMIT_MS), 'invalid_client', 'B: old secret refused');
  expectIssued(t, await eventually(() => onB(fresh), ok, PROPAGATION_LIMIT_MS), 'B: new secret works');

  await change(t, a, 'PATCH', '/admin/clients/vendor', { grants: [{ service: 'billing', scopes: ['billing:read'] }] });
  expectRefused(
    t,
    await eventually(
      () => onB(fresh),
      (response) => response.statusCode === 400,
      PROPAGATION_LIMIT_MS,
    ),
    'invalid_target',
    'B: grant removed',
  );

  const keyBefore = decodeProtectedHeader(String((await ask(b, fresh, { resource: BILLING.audience })).json().access_token)).kid;
  // An emergency rotation switches at once (a normal one waits for the JWKS caches: see
  // test/keys/). It also withdraws the key that signed A's admin token: A needs a new one.
  const rotated = await change(t, a, 'POST', '/admin/keys/rotate', { emergency: true });
  const newKid = rotated.kid;
  t.not(newKid, keyBefore, 'a new key');
  const signedBy = async () => decodeProtectedHeader(String((await ask(b, fresh, { resource: BILLING.audience })).json().access_token)).kid;
  t.equal(await eventually(signedBy, (kid) => kid === newKid, PROPAGATION_LIMIT_MS), newKid, 'B: signs with the new key');

  const renewed = await a.tokenFor();
  t.equal((await a.admin('DELETE', '/admin/clients/vendor', undefined, renewed)).statusCode, 204, 'DELETE with a new admin token');
  expectRefused(t, await eventually(() => onB(fresh), refused, PROPAGATION_LIMIT_MS), 'invalid_client', 'B: deleted');
});

t.test('an admin change made on another instance applies to the admin API there too', async (t) => {
  const a = await buildWithAdmin(t);
  const b = await buildWithAdmin(t, { database: a.database });
  const created = await a.admin('POST', '/admin/clients', {
    client_id: 'helper-admin',
    name: 'Helper admin',
    owner: 'user-1',
    grants: [{ service: 'portier-admin', scopes: ['admin:write'] }],
  });
  t.equal(created.statusCode, 201);
  const helperToken = await a.tokenFor('admin:write', 'helper-admin', (created.json() as { client_secret: string }).client_secret);
  const onB = () => b.admin('GET', '/admin/clients', undefined, helperToken);
  t.equal((await onB()).statusCode, 200, 'the helper admin works on B');
  await change(t, a, 'POST', '/admin/clients/helper-admin/disable');
  const refusedOnB = await eventually(onB, (response) => response.statusCode === 401, PROPAGATION_LIMIT_MS);
  t.equal(refusedOnB.statusCode, 401, 'B refuses the disabled admin');
});

t.test('key rotation: the next key is published first, then signs; old tokens still verify', async (t) => {
  const { server, client } = await setup(t);
  const before = await ask(server, client);
  expectIssued(t, before, 'token before rotation');
  const oldToken = String(before.json().access_token);
  const oldKid = decodeProtectedHeader(oldToken).kid;

  type KeyItem = {
    kid: string;
    alg: string;
    status: string;
    activates_at: string | null;
    retired_at: string | null;
    publish_until: string | null;
    public_jwk: JWK;
  };
  const listKeys = async () => ((await server.admin('GET', '/admin/keys')).json() as { items: KeyItem[] }).items;

  // The new contract: the new key is published now and signs only once every cached JWKS has it.
  const rotated = await server.admin('POST', '/admin/keys/rotate');
  t.equal(rotated.statusCode, 202, 'scheduled, not switched');
  const scheduled = rotated.json() as { kid: string; status: string; activates_at: string; items: KeyItem[] };
  t.equal(scheduled.status, 'next');
  t.ok(
    Date.parse(scheduled.activates_at) >= server.clock.now() + DEFAULT_PUBLICATION_LEAD_SECONDS * 1000 - 5000,
    'starts signing a publication delay from now',
  );
  t.same(scheduled.items, await listKeys(), 'the rotate response lists the keys');
  const pending = await listKeys();
  t.same(pending.map((key) => key.status).sort(), ['active', 'next']);
  t.equal(pending.find((key) => key.status === 'active')?.kid, oldKid, 'the old key still signs');
  const jwksBefore = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] };
  t.same(jwksBefore.keys.map((key) => key.kid).sort(), [oldKid, scheduled.kid].sort(), 'the JWKS lists both keys');
  t.equal(decodeProtectedHeader(String((await ask(server, client)).json().access_token)).kid, oldKid, 'tokens: still the old kid');

  server.clock.advance(DEFAULT_PUBLICATION_LEAD_SECONDS * 1000);
  const after = await ask(server, client);
  expectIssued(t, after, 'token after the switch');
  const newToken = String(after.json().access_token);
  t.equal(decodeProtectedHeader(newToken).kid, scheduled.kid, 'a new token has the new kid');

  const keys = await listKeys();
  t.equal(keys.length, 2, 'two keys');
  const active = keys.filter((key) => key.status === 'active');
  const retired = keys.filter((key) => key.status === 'retired');
  t.equal(active.length, 1, 'one active');
  t.equal(retired.length, 1, 'one retired');
  t.equal(retired[0]?.kid, oldKid, 'the retired key signed the old token');
  t.equal(active[0]?.kid, scheduled.kid, 'the active key is the scheduled one');
  t.ok(retired[0]?.retired_at !== null && retired[0]?.publish_until !== null, 'the retired key has retired_at and publish_until');
  t.ok(
    Date.parse(String(retired[0]?.publish_until)) > server.clock.now() + server.config.accessTokenTtl * 1000 - 5000,
    'published at least as long as a token lives',
  );
  t.equal(active[0]?.retired_at, null);
  for (const key of keys) {
    t.type(key.activates_at, 'string', `${key.status} key: activates_at`);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) t.notOk(member in key.public_jwk, `${key.status} key: no "${member}"`);
    t.equal(key.public_jwk.kid, key.kid);
    t.type(key.public_jwk.kty, 'string');
  }
  t.notOk(/"d"\s*:/.test(JSON.stringify(keys)), 'no private member anywhere in the listing');

  const jwksResponse = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  t.equal(jwksResponse.statusCode, 200);
  const jwks = jwksResponse.json() as { keys: JWK[] };
  t.same(jwks.keys.map((key) => key.kid).sort(), keys.map((key) => key.kid).sort(), 'the JWKS lists both keys');
  t.notOk(
    jwks.keys.some((key) => 'd' in key),
    'the JWKS has public keys only',
  );
  const keySet = createLocalJWKSet(jwks);
  const verifiedOld = await jwtVerify(oldToken, keySet, { issuer: ISSUER, audience: EVENTS.audience, typ: 'at+jwt' });
  t.equal(verifiedOld.protectedHeader.kid, oldKid, 'a token issued before the rotation still verifies');
  const verifiedNew = await jwtVerify(newToken, keySet, { issuer: ISSUER, audience: EVENTS.audience, typ: 'at+jwt' });
  t.equal(verifiedNew.payload.client_id, 'vendor');

  // The admin token was signed by the retired key: it still opens the admin API.
  t.equal((await server.admin('GET', '/admin/keys')).statusCode, 200, 'an admin token from before the rotation still works');

  // A second rotation: three keys once it has switched, and every token so far still verifies.
  t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202);
  server.clock.advance(DEFAULT_PUBLICATION_LEAD_SECONDS * 1000);
  expectIssued(t, await ask(server, client), 'token after the second switch');
  const three = await listKeys();
  t.same(three.map((key) => key.status).sort(), ['active', 'retired', 'retired']);
  const jwks3 = createLocalJWKSet((await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: JWK[] });
  for (const token of [oldToken, newToken]) await t.resolves(jwtVerify(token, jwks3, { issuer: ISSUER, audience: EVENTS.audience }));
});
