import t from 'tap';
import { buildWithAdmin } from '../helpers.js';

// Values PostgreSQL cannot hold (years outside 1–9999, NUL bytes, lone surrogates) in any
// query parameter, cursor or body: a 400 naming the field, never a 500.

const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

t.test('timestamps outside years 1 to 9999, and cursors that hold anything but a client_id', async (t) => {
  const server = await buildWithAdmin(t);
  const cases: Array<[string, string]> = [
    ['/admin/clients?expires_before=0000-01-01T00:00:00Z', '/querystring/expires_before'],
    ['/admin/clients?expires_after=0000-01-01T00:00:00Z', '/querystring/expires_after'],
    ['/admin/clients?expires_before=0001-01-01T00:00:00%2B01:00', '/querystring/expires_before'],
    ['/admin/clients?expires_after=10000-01-01T00:00:00Z', '/querystring/expires_after'],
    ['/admin/audit-events?since=0000-06-01T00:00:00%2B01:00', '/querystring/since'],
    ['/admin/audit-events?until=0000-06-01T00:00:00Z', '/querystring/until'],
    [`/admin/clients?cursor=${cursorOf({ after: 'client\u0000x' })}`, '/cursor'],
    [`/admin/clients?cursor=${cursorOf({ after: '\ud800' })}`, '/cursor'],
    [`/admin/clients?cursor=${cursorOf({ after: 'x'.repeat(300) })}`, '/cursor'],
    ['/admin/clients?name=%00', '/querystring/name'],
  ];
  for (const [url, field] of cases) {
    const response = await server.admin('GET', url);
    t.equal(response.statusCode, 400, `${url}: 400`);
    t.match(response.json(), { status: 400, errors: [{ path: field }] }, `${url}: names ${field}`);
  }
  const fine = await server.admin('GET', '/admin/clients?expires_before=0001-01-01T00:00:00Z&expires_after=0001-01-01T00:00:00Z');
  t.equal(fine.statusCode, 200, 'the first instant of year 1 is fine');
});

t.test('the same in bodies', async (t) => {
  const server = await buildWithAdmin(t);
  for (const expires of ['0000-12-31T23:59:59Z', '10000-01-01T00:00:00Z']) {
    const created = await server.admin('POST', '/admin/clients', { name: 'x', owner: 'o', expires_at: expires });
    t.equal(created.statusCode, 400, `create with expires_at ${expires}: 400`);
    t.match(created.json(), { errors: [{ path: '/expires_at' }] });
  }
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'later', name: 'x', owner: 'o' })).statusCode, 201);
  const patched = await server.admin('PATCH', '/admin/clients/later', { expires_at: '0000-06-01T00:00:00+01:00' });
  t.equal(patched.statusCode, 400);
  t.match(patched.json(), { errors: [{ path: '/expires_at' }] });
  const named = await server.admin('PATCH', '/admin/clients/later', { name: 'a\u0000b' });
  t.equal(named.statusCode, 400, 'a NUL byte in a name');
  const surrogate = await server.adminJson('PATCH', '/admin/clients/later', '{"description":"\\ud800"}');
  t.equal(surrogate.statusCode, 400, 'a lone surrogate in a description');
  t.match(surrogate.json(), { errors: [{ path: '/description' }] });
});

t.test('URLs with a NUL byte or a lone surrogate: a jwks_uri, a trusted issuer', async (t) => {
  const server = await buildWithAdmin(t);
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['/admin/clients', { name: 'x', owner: 'o', auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/\u0000' }, '/jwks_uri'],
    ['/admin/clients', { name: 'x', owner: 'o', auth_method: 'private_key_jwt', jwks_uri: 'https://keys.example/\ud800' }, '/jwks_uri'],
    ['/admin/trusted-issuers', { id: 'nul-issuer', issuer: 'https://oidc.example/\u0000x' }, '/issuer'],
    ['/admin/trusted-issuers', { id: 'lone-half', issuer: 'https://oidc.example/\ud800x' }, '/issuer'],
    ['/admin/trusted-issuers', { id: 'nul-keys', issuer: 'https://oidc.example', jwks_uri: 'https://oidc.example/\u0000' }, '/jwks_uri'],
  ];
  for (const [url, body, field] of cases) {
    const response = await server.admin('POST', url, body);
    t.equal(response.statusCode, 400, `${url} ${field}: 400`);
    t.match(response.json(), { errors: [{ path: field }] }, `names ${field}`);
  }
});

t.test('claims nested too deep: 400 naming /claims on clients and services, also at 7,000 levels', async (t) => {
  const server = await buildWithAdmin(t);
  t.equal(
    (
      await server.admin('POST', '/admin/services', {
        id: 'orders',
        name: 'Orders',
        audience: 'https://orders.example',
        scopes: ['orders:read'],
      })
    ).statusCode,
    201,
  );
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'nested', name: 'x', owner: 'o' })).statusCode, 201);
  const nested = (depth: number) => `{"claims":{"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
  for (const depth of [33, 7_000]) {
    for (const [method, url] of [
      ['PATCH', '/admin/clients/nested'],
      ['PATCH', '/admin/services/orders'],
    ] as const) {
      const response = await server.adminJson(method, url, nested(depth));
      t.equal(response.statusCode, 400, `${method} ${url}, ${depth} levels: 400`);
      t.match(response.json(), { errors: [{ path: '/claims', message: /nest deeper than 32 levels/ }] }, 'names the field and the limit');
    }
    const created = await server.adminJson('POST', '/admin/clients', `{"name":"x","owner":"o",${nested(depth).slice(1, -1)}}`);
    t.equal(created.statusCode, 400, `POST /admin/clients, ${depth} levels: 400`);
  }
  t.equal((await server.adminJson('PATCH', '/admin/clients/nested', nested(32))).statusCode, 200, '32 levels are fine');
});
