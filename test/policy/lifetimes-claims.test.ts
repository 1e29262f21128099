import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import t, { type Test } from 'tap';
import { expectInvalid } from '../expect.js';
import { basicAuth, buildWithAdmin, postToken } from '../helpers.js';

// Lifetimes and custom claims on services and clients, through the admin API, as tokens
// and introspection show them: the effective lifetime (client, else the smallest of the
// services, else ACCESS_TOKEN_TTL) with expires_in = exp − iat, the claims merged (the
// client's win), and every bad value a 400 naming its field.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const ORDERS = { id: 'orders', name: 'Orders', audience: 'https://orders.example', scopes: ['orders:read'] };
const BILLING = { id: 'billing', name: 'Billing', audience: 'https://billing.example', scopes: ['billing:read'] };
const GRANTS = [
  { service: 'orders', scopes: ['orders:read'] },
  { service: 'billing', scopes: ['billing:read'] },
];

async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t, { config: { accessTokenTtl: 1800 } });
  for (const service of [ORDERS, BILLING]) t.equal((await server.admin('POST', '/admin/services', service)).statusCode, 201);
  return server;
}

async function createClient(t: Test, server: Server, body: Record<string, unknown>) {
  const response = await server.admin('POST', '/admin/clients', { name: 'Client', owner: 'user-1', grants: GRANTS, ...body });
  t.equal(response.statusCode, 201, 'client created');
  const created = response.json() as { client_id: string; client_secret: string };
  return { clientId: created.client_id, secret: created.client_secret };
}

/** A token for `resources`; checks that expires_in = exp − iat, and verifies it against the JWKS. */
async function token(t: Test, server: Server, client: { clientId: string; secret: string }, resources: string[]) {
  const response = await postToken(
    server.app,
    { grant_type: 'client_credentials', resource: resources },
    { authorization: basicAuth(client.clientId, client.secret) },
  );
  t.equal(response.statusCode, 200, `token for ${resources.join(' ')}`);
  const body = response.json() as { access_token: string; expires_in: number };
  const jwks = (await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
  const { payload } = await jwtVerify(body.access_token, createLocalJWKSet(jwks), { issuer: server.config.issuer });
  t.equal(Number(payload.exp) - Number(payload.iat), body.expires_in, 'expires_in = exp − iat');
  return { expiresIn: body.expires_in, claims: payload as Record<string, unknown>, accessToken: body.access_token };
}

t.test('the effective lifetime: the client, else the smallest of the services, else ACCESS_TOKEN_TTL', async (t) => {
  const server = await setUp(t);
  const plain = await createClient(t, server, { client_id: 'plain' });
  t.equal((await token(t, server, plain, [ORDERS.audience])).expiresIn, 1800, 'nothing set: ACCESS_TOKEN_TTL');

  const patched = await server.admin('PATCH', '/admin/services/orders', { access_token_ttl: 600 });
  t.equal(patched.statusCode, 200);
  t.equal(patched.json().access_token_ttl, 600, 'the service shows it');
  await server.admin('PATCH', '/admin/services/billing', { access_token_ttl: 300 });
  t.equal((await token(t, server, plain, [ORDERS.audience])).expiresIn, 600, "the service's, at the next request");
  t.equal((await token(t, server, plain, [ORDERS.audience, BILLING.audience])).expiresIn, 300, 'several services: the smallest');

  const own = await createClient(t, server, { client_id: 'own', access_token_ttl: 3600 });
  t.equal((await token(t, server, own, [ORDERS.audience, BILLING.audience])).expiresIn, 3600, "the client's wins, longer or not");
  t.equal((await server.admin('GET', '/admin/clients/own')).json().access_token_ttl, 3600);
  await server.admin('PATCH', '/admin/clients/own', { access_token_ttl: null });
  t.equal((await token(t, server, own, [BILLING.audience])).expiresIn, 300, 'null: inherit again');
  await server.admin('PATCH', '/admin/services/billing', { access_token_ttl: null });
  t.equal((await token(t, server, own, [BILLING.audience])).expiresIn, 1800);
  for (const edge of [60, 86400]) {
    await server.admin('PATCH', '/admin/clients/own', { access_token_ttl: edge });
    t.equal((await token(t, server, own, [BILLING.audience])).expiresIn, edge, `${edge} s is allowed`);
  }

  const audit = (await server.admin('GET', '/admin/audit-events?client_id=own&action=client.updated')).json().items as Array<{
    details: { changes: Record<string, unknown> };
  }>;
  t.ok(
    audit.some((event) => 'access_token_ttl' in event.details.changes),
    'a change of lifetime is in the audit trail',
  );
});

t.test('out of range, or not a whole number: 400 naming the field, nothing written', async (t) => {
  const server = await setUp(t);
  await createClient(t, server, { client_id: 'cli-one' });
  for (const value of [59, 0, -1, 86401, 3600.5, '3600', true]) {
    expectInvalid(
      t,
      await server.admin('PATCH', '/admin/clients/cli-one', { access_token_ttl: value }),
      ['/access_token_ttl'],
      `client ${value}`,
    );
    expectInvalid(
      t,
      await server.admin('PATCH', '/admin/services/orders', { access_token_ttl: value }),
      ['/access_token_ttl'],
      `service ${value}`,
    );
  }
  expectInvalid(t, await server.admin('POST', '/admin/clients', { name: 'x', owner: 'o', access_token_ttl: 10 }), ['/access_token_ttl']);
  expectInvalid(
    t,
    await server.admin('POST', '/admin/services', { ...ORDERS, id: 'svc-x', audience: 'https://x.example', access_token_ttl: 1e6 }),
    ['/access_token_ttl'],
  );
  t.equal((await server.admin('GET', '/admin/clients/cli-one')).json().access_token_ttl, null);
  t.equal((await server.admin('GET', '/admin/services/svc-x')).statusCode, 404);
});

t.test('custom claims: in tokens and introspection, the client over its services', async (t) => {
  const server = await setUp(t);
  await server.admin('PATCH', '/admin/services/orders', { claims: { tenant: 'orders-tenant', api_tier: 'gold', limits: { rps: 10 } } });
  await server.admin('PATCH', '/admin/services/billing', { claims: { api_tier: 'silver', ledger: 'eu' } });
  const client = await createClient(t, server, { client_id: 'acme', claims: { tenant: 'acme', region: ['eu', 'us'] } });
  t.same((await server.admin('GET', '/admin/clients/acme')).json().claims, { tenant: 'acme', region: ['eu', 'us'] });
  t.same((await server.admin('GET', '/admin/services/orders')).json().claims, {
    tenant: 'orders-tenant',
    api_tier: 'gold',
    limits: { rps: 10 },
  });

  const one = await token(t, server, client, [ORDERS.audience]);
  t.match(one.claims, { tenant: 'acme', api_tier: 'gold', limits: { rps: 10 }, region: ['eu', 'us'], client_id: 'acme' });
  t.equal(one.claims.ledger, undefined, "another service's claims stay out");
  const both = await token(t, server, client, [BILLING.audience, ORDERS.audience]);
  t.match(both.claims, { tenant: 'acme', api_tier: 'silver', ledger: 'eu', aud: [BILLING.audience, ORDERS.audience] });

  const introspected = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, client.secret) },
    payload: new URLSearchParams({ token: one.accessToken }).toString(),
  });
  t.match(introspected.json(), {
    active: true,
    client_id: 'acme',
    tenant: 'acme',
    api_tier: 'gold',
    limits: { rps: 10 },
    region: ['eu', 'us'],
  });

  await server.admin('PATCH', '/admin/clients/acme', { claims: {} });
  const cleared = await token(t, server, client, [ORDERS.audience]);
  t.equal(cleared.claims.tenant, 'orders-tenant', "{} clears the client's claims; the service's remain");
});

t.test('claims a client or service cannot have: 400 naming claims, nothing written', async (t) => {
  const server = await setUp(t);
  await createClient(t, server, { client_id: 'cli-one', claims: { keep: 'me' } });
  const cases: Array<[string, unknown]> = [
    ['a reserved name', { sub: 'someone-else' }],
    ['another reserved name', { roles: ['admin'], tenant: 'x' }],
    ['a string', 'tenant=acme'],
    ['an array', [{ tenant: 'acme' }]],
    ['null', null],
    ['over 2 KB', { blob: 'x'.repeat(2100) }],
    ['a NUL', { name_of_thing: 'a\u0000b' }],
  ];
  for (const [what, claims] of cases) {
    expectInvalid(t, await server.admin('PATCH', '/admin/clients/cli-one', { claims }), ['/claims'], `client: ${what}`);
    expectInvalid(t, await server.admin('PATCH', '/admin/services/orders', { claims }), ['/claims'], `service: ${what}`);
  }
  const reserved = await server.admin('POST', '/admin/clients', { name: 'x', owner: 'o', claims: { iss: 'https://evil' } });
  t.match(expectInvalid(t, reserved, ['/claims']).errors?.[0]?.message, /"iss" is reserved/);
  const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`c${i}`, i]));
  expectInvalid(t, await server.admin('PATCH', '/admin/clients/cli-one', { claims: tooMany }), ['/claims'], 'over 100 claims');
  t.same((await server.admin('GET', '/admin/clients/cli-one')).json().claims, { keep: 'me' }, 'unchanged');
  t.same((await server.admin('GET', '/admin/services/orders')).json().claims, {}, 'unchanged');
  const proto = await server.adminJson('PATCH', '/admin/clients/cli-one', '{"claims": {"__proto__": {"x": 1}}}');
  t.equal(proto.statusCode, 400, 'a __proto__ member is refused by the JSON parser');
});

t.test('a claim stored by hand under a reserved name never reaches a token', async (t) => {
  const server = await setUp(t);
  const client = await createClient(t, server, { client_id: 'cli-one' });
  const { sql } = await import('drizzle-orm');
  await server.database.db.execute(
    sql`UPDATE clients SET claims = '{"sub": "forged", "tenant": "acme"}'::jsonb WHERE client_id = 'cli-one'`,
  );
  server.app.portier.generation.changed();
  const { claims } = await token(t, server, client, [ORDERS.audience]);
  t.equal(claims.tenant, 'acme');
  t.not(claims.sub, 'forged');
  t.equal(decodeJwt((await token(t, server, client, [ORDERS.audience])).accessToken).sub, claims.sub);
});
