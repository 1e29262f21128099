import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { generateKeyPair, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { getClient } from '../../src/clients/clients.js';
import { clients } from '../../src/db/schema.js';
import { expectProblem } from '../expect.js';
import { ADMIN_ID, addClient, addService, basicAuth, buildWithAdmin, ISSUER, postToken } from '../helpers.js';

// Authentication and authorisation of every /admin/clients endpoint: who gets a 401, who
// gets a 403, and that each refusal is an RFC 9457 problem with an RFC 6750 challenge.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
type Response = Awaited<ReturnType<Server['admin']>>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

const ADMIN_AUDIENCE = `${ISSUER}/admin`;
const TARGET = 'target-client';

interface Endpoint {
  method: Method;
  url: string;
  payload?: unknown;
  /** Status an admin:write token gets (the request is valid). */
  ok: number;
}

/** Every client endpoint of src/admin/clients.ts, each with a valid request. */
const ENDPOINTS: Endpoint[] = [
  { method: 'POST', url: '/admin/clients', payload: { name: 'New', owner: 'user-1' }, ok: 201 },
  { method: 'GET', url: '/admin/clients', ok: 200 },
  { method: 'GET', url: `/admin/clients/${TARGET}`, ok: 200 },
  { method: 'PATCH', url: `/admin/clients/${TARGET}`, payload: { name: 'Renamed' }, ok: 200 },
  { method: 'POST', url: `/admin/clients/${TARGET}/disable`, ok: 200 },
  { method: 'POST', url: `/admin/clients/${TARGET}/enable`, ok: 200 },
  { method: 'POST', url: '/admin/clients/bulk', payload: { action: 'disable', client_ids: [TARGET] }, ok: 200 },
  { method: 'POST', url: `/admin/clients/${TARGET}/secret`, ok: 200 },
  { method: 'DELETE', url: `/admin/clients/${TARGET}`, ok: 204 },
];

const label = (endpoint: Endpoint) => `${endpoint.method} ${endpoint.url}`;

function send(server: Server, endpoint: Endpoint, authorization: string | undefined): Promise<Response> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (endpoint.payload !== undefined) headers['content-type'] = 'application/json';
  return server.app.inject({
    method: endpoint.method,
    url: endpoint.url,
    headers,
    ...(endpoint.payload === undefined ? {} : { payload: JSON.stringify(endpoint.payload) }),
  });
}

function expect401(t: Test, response: Response, what: string, tokenPresented = true): void {
  expectProblem(t, response, 401, what);
  const challenge = String(response.headers['www-authenticate'] ?? '');
  t.match(challenge, /^Bearer realm="[^"]+"/, `${what}: Bearer challenge`);
  if (tokenPresented) t.match(challenge, /error="invalid_token"/, `${what}: error="invalid_token"`);
  else t.notMatch(challenge, /error=/, `${what}: no error code when no token was presented (RFC 6750 §3.1)`);
}

function expect403(t: Test, response: Response, what: string, scope = 'admin:write'): void {
  expectProblem(t, response, 403, what);
  const challenge = String(response.headers['www-authenticate'] ?? '');
  t.match(challenge, /^Bearer /, `${what}: Bearer challenge`);
  t.match(challenge, /error="insufficient_scope"/, `${what}: error="insufficient_scope"`);
  t.match(challenge, new RegExp(`scope="${scope}"`), `${what}: names the scope needed`);
}

/** Signs a token with the server's own active key: valid unless the claims say otherwise. */
async function signWithServerKey(server: Server, claims: Record<string, unknown>, typ = 'at+jwt'): Promise<string> {
  const { active } = await server.app.portier.keys.get();
  return new SignJWT(claims).setProtectedHeader({ alg: active.alg, kid: active.kid, typ }).sign(active.privateKey);
}

async function adminClaims(server: Server, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const admin = await getClient(server.database.db, ADMIN_ID, Date.now());
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    sub: admin?.service_account.id,
    aud: ADMIN_AUDIENCE,
    client_id: ADMIN_ID,
    scope: 'admin:write',
    iat: now,
    exp: now + 600,
    jti: randomUUID(),
    ...overrides,
  };
}

/** Fresh server with the target client; returns it. */
async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t);
  await addClient(server, { client_id: TARGET });
  return server;
}

t.test('a well-formed admin:write token reaches every endpoint', async (t) => {
  const server = await setUp(t);
  for (const endpoint of ENDPOINTS) {
    const response = await send(server, endpoint, `Bearer ${server.token}`);
    t.equal(response.statusCode, endpoint.ok, `${label(endpoint)}: ${endpoint.ok}`);
  }
  // The scheme name is case-insensitive (RFC 7235 §2.1).
  const lower = await server.app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: `bearer ${server.token}` } });
  t.equal(lower.statusCode, 200, 'lower-case "bearer" is accepted');
});

t.test('401 on every endpoint without a valid token', async (t) => {
  const server = await setUp(t);

  // Another key pair, signing otherwise perfect claims, with the server's kid and with its own.
  const { active } = await server.app.portier.keys.get();
  const foreign = await generateKeyPair('ES256');
  const claims = await adminClaims(server);
  const foreignSameKid = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: active.kid, typ: 'at+jwt' })
    .sign(foreign.privateKey);
  const foreignOwnKid = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'foreign-key', typ: 'at+jwt' })
    .sign(foreign.privateKey);

  // alg "none": the claims of a real admin token, unsigned.
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`;

  // A real admin token whose signature has been tampered with (last character changed).
  const tampered = server.token.slice(0, -2) + (server.token.endsWith('AA') ? 'BB' : 'AA');

  // Signed with the right key, but wrong in one claim or header each.
  const now = Math.floor(Date.now() / 1000);
  const expired = await signWithServerKey(server, await adminClaims(server, { iat: now - 7200, exp: now - 3600 }));
  const wrongIssuer = await signWithServerKey(server, await adminClaims(server, { iss: 'http://evil.test' }));
  const wrongTyp = await signWithServerKey(server, await adminClaims(server), 'JWT');
  const noClientId = await signWithServerKey(server, await adminClaims(server, { client_id: undefined }));
  const otherSub = await signWithServerKey(server, await adminClaims(server, { sub: randomUUID() }));

  // A token for a normal service, from a client granted only that service.
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  const vendor = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const vendorToken = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(vendor.clientId, vendor.clientSecret) },
  );
  t.equal(vendorToken.statusCode, 200, 'the vendor client gets a token for its service');
  const otherAudience = (vendorToken.json() as { access_token: string }).access_token;
  // The admin client's own credentials, sent as Basic instead of a token.
  const basic = basicAuth(ADMIN_ID, 'root-admin-secret-0123456789');

  const cases: Array<[string, string | undefined, boolean]> = [
    ['no Authorization header', undefined, false],
    ['Basic credentials of the admin client', basic, false],
    ['"Bearer" without a token', 'Bearer', true],
    ['"Bearer " and spaces', 'Bearer    ', true],
    ['Bearer with two tokens', `Bearer ${server.token} ${server.token}`, true],
    ['Bearer with characters outside b64token', 'Bearer abc$def', true],
    ['token without a scheme', server.token, false],
    ['garbage JWT', 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJnYXJiYWdlIjp0cnVlfQ.c2lnbmF0dXJl', true],
    ['not a JWT at all', 'Bearer not-a-jwt', true],
    ['token signed by another key (server kid)', `Bearer ${foreignSameKid}`, true],
    ['token signed by another key (own kid)', `Bearer ${foreignOwnKid}`, true],
    ['unsigned token (alg none)', `Bearer ${unsigned}`, true],
    ['tampered signature', `Bearer ${tampered}`, true],
    ['expired token', `Bearer ${expired}`, true],
    ['token from another issuer', `Bearer ${wrongIssuer}`, true],
    ['token with typ JWT instead of at+jwt', `Bearer ${wrongTyp}`, true],
    ['token without client_id', `Bearer ${noClientId}`, true],
    ['token whose sub is not the client', `Bearer ${otherSub}`, true],
    ['token for another audience', `Bearer ${otherAudience}`, true],
  ];

  for (const endpoint of ENDPOINTS) {
    t.test(label(endpoint), async (t) => {
      for (const [what, authorization, tokenPresented] of cases) {
        expect401(t, await send(server, endpoint, authorization), what, tokenPresented);
      }
    });
  }

  const target = await getClient(server.database.db, TARGET, Date.now());
  t.equal(target?.name, 'Test client', 'no refused request changed the target client');
  t.equal(target?.enabled, true, 'no refused request disabled the target client');
});

t.test('admin:read: every GET is allowed, every write is 403 insufficient_scope', async (t) => {
  const server = await setUp(t);
  const readToken = await server.tokenFor('admin:read');
  for (const endpoint of ENDPOINTS) {
    const response = await send(server, endpoint, `Bearer ${readToken}`);
    if (endpoint.method === 'GET') t.equal(response.statusCode, 200, `${label(endpoint)}: 200 with admin:read`);
    else expect403(t, response, label(endpoint));
  }
  // Nothing a refused write asked for happened.
  const list = await server.admin('GET', '/admin/clients', undefined, readToken);
  t.same(
    (list.json() as { items: Array<{ client_id: string }> }).items.map((item) => item.client_id).sort(),
    [ADMIN_ID, TARGET],
    'no client was created or deleted',
  );
  const target = await getClient(server.database.db, TARGET, Date.now());
  t.equal(target?.name, 'Test client', 'not renamed');
  t.equal(target?.enabled, true, 'not disabled');
});

t.test('a token that holds neither admin scope is refused with 403 on every endpoint', async (t) => {
  const server = await setUp(t);
  // Grant a second admin client only admin:read, then narrow the grant to nothing after the token.
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'narrow-admin',
    name: 'Narrow admin',
    owner: 'user-1',
    grants: [{ service: 'portier-admin', scopes: ['admin:read'] }],
  });
  t.equal(created.statusCode, 201);
  const secret = (created.json() as { client_secret: string }).client_secret;
  const token = await server.tokenFor('admin:read', 'narrow-admin', secret);
  const patched = await server.admin('PATCH', '/admin/clients/narrow-admin', { grants: [{ service: 'portier-admin', scopes: [] }] });
  t.equal(patched.statusCode, 200);
  for (const endpoint of ENDPOINTS) {
    expect403(
      t,
      await send(server, endpoint, `Bearer ${token}`),
      label(endpoint),
      endpoint.method === 'GET' ? 'admin:read' : 'admin:write',
    );
  }
});

t.test('a token stops working at once when its client changes', async (t) => {
  const server = await setUp(t);
  const { admin } = server;

  /** A second admin client with admin:write, and a token for it. */
  async function otherAdmin(t: Test, clientId: string): Promise<{ token: string; secret: string }> {
    const created = await admin('POST', '/admin/clients', {
      client_id: clientId,
      name: 'Second admin',
      owner: 'user-2',
      grants: [{ service: 'portier-admin', scopes: ['admin:read', 'admin:write'] }],
    });
    t.equal(created.statusCode, 201, `${clientId} created`);
    const secret = (created.json() as { client_secret: string }).client_secret;
    const token = await server.tokenFor('admin:read admin:write', clientId, secret);
    t.equal((await admin('GET', '/admin/clients', undefined, token)).statusCode, 200, `${clientId}: its token works`);
    return { token, secret };
  }

  t.test('disabled: 401, and enabled again: works again', async (t) => {
    const { token } = await otherAdmin(t, 'admin-disabled');
    t.equal((await admin('POST', '/admin/clients/admin-disabled/disable')).statusCode, 200);
    for (const endpoint of ENDPOINTS) expect401(t, await send(server, endpoint, `Bearer ${token}`), `${label(endpoint)} after disable`);
    t.equal((await admin('POST', '/admin/clients/admin-disabled/enable')).statusCode, 200);
    t.equal((await admin('GET', '/admin/clients', undefined, token)).statusCode, 200, 'a re-enabled client’s unexpired token works again');
  });

  t.test('disabled in bulk: 401', async (t) => {
    const { token } = await otherAdmin(t, 'admin-bulk');
    t.equal((await admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['admin-bulk'] })).statusCode, 200);
    expect401(t, await admin('GET', '/admin/clients', undefined, token), 'after bulk disable');
  });

  t.test('a client disabling itself: its next request is 401', async (t) => {
    const { token } = await otherAdmin(t, 'admin-self');
    t.equal((await admin('POST', '/admin/clients/admin-self/disable', undefined, token)).statusCode, 200, 'it may disable itself');
    expect401(t, await admin('GET', '/admin/clients', undefined, token), 'the following request');
  });

  t.test('deleted: 401', async (t) => {
    const { token } = await otherAdmin(t, 'admin-deleted');
    t.equal((await admin('DELETE', '/admin/clients/admin-deleted')).statusCode, 204);
    for (const endpoint of ENDPOINTS) expect401(t, await send(server, endpoint, `Bearer ${token}`), `${label(endpoint)} after delete`);
  });

  t.test('deleted and re-created under the same client_id: the old token is still refused', async (t) => {
    const { token } = await otherAdmin(t, 'admin-recreated');
    t.equal((await admin('DELETE', '/admin/clients/admin-recreated')).statusCode, 204);
    await otherAdmin(t, 'admin-recreated');
    expect401(t, await admin('GET', '/admin/clients', undefined, token), 'token of the previous incarnation');
  });

  t.test('expired: 401', async (t) => {
    const { token } = await otherAdmin(t, 'admin-expired');
    // The API refuses a past expires_at, so the row is changed directly, as time would.
    await server.database.db
      .update(clients)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(clients.clientId, 'admin-expired'));
    server.app.portier.generation.changed();
    for (const endpoint of ENDPOINTS) expect401(t, await send(server, endpoint, `Bearer ${token}`), `${label(endpoint)} after expiry`);
  });

  t.test('expires while its token is still valid: 401 (status is judged per request)', async (t) => {
    const { token } = await otherAdmin(t, 'admin-expiring');
    const soon = new Date(Date.now() + 1500).toISOString();
    t.equal((await admin('PATCH', '/admin/clients/admin-expiring', { expires_at: soon })).statusCode, 200);
    server.clock.advance(Date.parse(soon) - Date.now() + 100);
    expect401(t, await admin('GET', '/admin/clients', undefined, token), 'after expires_at passed');
  });

  t.test('lost its admin grant: 403', async (t) => {
    const { token } = await otherAdmin(t, 'admin-ungranted');
    t.equal((await admin('PATCH', '/admin/clients/admin-ungranted', { grants: [] })).statusCode, 200);
    for (const endpoint of ENDPOINTS) {
      expect403(
        t,
        await send(server, endpoint, `Bearer ${token}`),
        `${label(endpoint)} after losing the grant`,
        endpoint.method === 'GET' ? 'admin:read' : 'admin:write',
      );
    }
  });

  t.test('grant narrowed from admin:write to admin:read: writes 403, reads still allowed', async (t) => {
    const { token } = await otherAdmin(t, 'admin-narrowed');
    t.equal(
      (await admin('PATCH', '/admin/clients/admin-narrowed', { grants: [{ service: 'portier-admin', scopes: ['admin:read'] }] }))
        .statusCode,
      200,
    );
    expect403(t, await admin('POST', '/admin/clients', { name: 'x', owner: 'y' }, token), 'create after narrowing');
    t.equal(
      (await admin('GET', '/admin/clients', undefined, token)).statusCode,
      200,
      'list still allowed (the token also holds admin:read)',
    );
  });

  t.test('a new secret does not end tokens already issued', async (t) => {
    const { token } = await otherAdmin(t, 'admin-new-secret');
    t.equal((await admin('POST', '/admin/clients/admin-new-secret/secret')).statusCode, 200);
    t.equal((await admin('GET', '/admin/clients', undefined, token)).statusCode, 200, 'the access token is still valid');
  });
});
