import t from 'tap';
import { revokedTokens } from '../../src/db/schema.js';
import { addClient, addService, basicAuth, build, postToken, type TestLike, type TestServer } from '../helpers.js';

function post(server: TestServer, url: string, form: Record<string, string>, authorization?: string) {
  return server.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization === undefined ? {} : { authorization }) },
    payload: new URLSearchParams(form).toString(),
  });
}

async function setup(t: TestLike) {
  const server = await build(t);
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  const owner = await addClient(server, { client_id: 'vendor-a', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const other = await addClient(server, { client_id: 'vendor-b', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const res = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(owner.clientId, owner.clientSecret) },
  );
  const token = (res.json() as { access_token: string }).access_token;
  return { server, owner, other, token };
}

t.test('introspection reports an issued token as active with its claims', async (t) => {
  const { server, owner, other, token } = await setup(t);
  const res = await post(server, '/oauth/introspect', { token }, basicAuth(other.clientId, other.clientSecret));
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.active, true);
  t.equal(body.client_id, 'vendor-a');
  t.equal(body.sub, owner.uuid);
  t.equal(body.scope, 'events:read');
  t.equal(body.username, 'service-account-vendor-a');
  t.equal(body.token_type, 'Bearer');
  t.equal(res.headers['cache-control'], 'no-store');
});

t.test('garbage, foreign and tampered tokens are inactive, not errors', async (t) => {
  const { server, other, token } = await setup(t);
  const auth = basicAuth(other.clientId, other.clientSecret);
  for (const candidate of ['garbage', `${token}x`, `${token.split('.').slice(0, 2).join('.')}.AAAA`]) {
    const res = await post(server, '/oauth/introspect', { token: candidate }, auth);
    t.equal(res.statusCode, 200);
    t.same(res.json(), { active: false });
  }
});

t.test('introspection needs client authentication and a token', async (t) => {
  const { server, other, token } = await setup(t);
  let res = await post(server, '/oauth/introspect', { token });
  t.equal(res.statusCode, 400, 'no client authentication: 400 (no Authorization header was sent)');
  t.equal(res.json().error, 'invalid_client');
  res = await post(server, '/oauth/introspect', { token }, basicAuth(other.clientId, 'wrong'));
  t.equal(res.statusCode, 401);
  res = await post(server, '/oauth/introspect', {}, basicAuth(other.clientId, other.clientSecret));
  t.equal(res.statusCode, 400);
  t.equal(res.json().error, 'invalid_request');
  for (const url of ['/oauth/introspect', '/oauth/revoke']) {
    res = await post(server, url, { token, client_id: `${other.clientId}\u0000`, client_secret: other.clientSecret });
    t.equal(res.statusCode, 400, `${url}: a client_id with a NUL byte is invalid_client, not a 500`);
    t.equal(res.json().error, 'invalid_client');
  }
});

t.test('a token is inactive once its client is disabled or deleted', async (t) => {
  const { server, other, token } = await setup(t);
  const { setClientEnabled, deleteClient } = await import('../../src/clients/lifecycle.js');
  const auth = basicAuth(other.clientId, other.clientSecret);
  await setClientEnabled(server.database.db, 'vendor-a', false, { clientId: 'test', sub: null }, Date.now());
  server.app.portier.generation.changed();
  t.same((await post(server, '/oauth/introspect', { token }, auth)).json(), { active: false });
  await setClientEnabled(server.database.db, 'vendor-a', true, { clientId: 'test', sub: null }, Date.now());
  server.app.portier.generation.changed();
  t.equal((await post(server, '/oauth/introspect', { token }, auth)).json().active, true);
  await deleteClient(server.database.db, 'vendor-a', { clientId: 'test', sub: null });
  server.app.portier.generation.changed();
  t.same((await post(server, '/oauth/introspect', { token }, auth)).json(), { active: false });
});

t.test('revocation: only the owner may revoke; afterwards the token is inactive', async (t) => {
  const { server, owner, other, token } = await setup(t);
  let res = await post(server, '/oauth/revoke', { token }, basicAuth(other.clientId, other.clientSecret));
  t.equal(res.statusCode, 400);
  t.equal(res.json().error, 'unauthorized_client');
  res = await post(server, '/oauth/introspect', { token }, basicAuth(other.clientId, other.clientSecret));
  t.equal(res.json().active, true, 'a refused revocation changes nothing');

  // RFC 7009 §2.2: the client ignores the body; it is `{}` as JSON all the same, for
  // clients that parse every answer (simple-oauth2 sends Accept: application/json).
  const emptyJson = (label: string) => {
    t.equal(res.statusCode, 200, `${label}: 200`);
    t.match(res.headers['content-type'], /^application\/json/, `${label}: application/json`);
    t.equal(res.body, '{}', `${label}: {}`);
    t.equal(res.headers['cache-control'], 'no-store', `${label}: no-store`);
  };
  res = await post(server, '/oauth/revoke', { token, token_type_hint: 'access_token' }, basicAuth(owner.clientId, owner.clientSecret));
  emptyJson('revoked');
  res = await post(server, '/oauth/introspect', { token }, basicAuth(other.clientId, other.clientSecret));
  t.same(res.json(), { active: false });
  res = await post(server, '/oauth/revoke', { token }, basicAuth(owner.clientId, owner.clientSecret));
  emptyJson('revoking again (RFC 7009 §2.2: still 200)');
  res = await post(server, '/oauth/revoke', { token: 'garbage' }, basicAuth(owner.clientId, owner.clientSecret));
  emptyJson('an unknown token');
});

t.test('a revocation clears out the revocations of tokens that have expired since', async (t) => {
  const { server, owner, token } = await setup(t);
  const { db } = server.database;
  const past = new Date(Date.now() - 1000);
  await db.insert(revokedTokens).values([
    { jti: 'expired-long-ago', expiresAt: new Date(Date.now() - 86_400_000) },
    { jti: 'expired-just-now', expiresAt: past },
  ]);
  const res = await post(server, '/oauth/revoke', { token }, basicAuth(owner.clientId, owner.clientSecret));
  t.equal(res.statusCode, 200);
  const left = await db.select({ jti: revokedTokens.jti }).from(revokedTokens);
  t.equal(left.length, 1, 'only the new revocation is left');
  t.notOk(
    left.some((row) => row.jti.startsWith('expired-')),
    'the expired ones are gone',
  );
});

t.test('a revocation reaches another instance on the same database within a second', async (t) => {
  const { server, owner, other, token } = await setup(t);
  const second = await build(t, { database: server.database });
  const auth = basicAuth(other.clientId, other.clientSecret);
  t.equal((await post(second, '/oauth/introspect', { token }, auth)).json().active, true);
  await post(server, '/oauth/revoke', { token }, basicAuth(owner.clientId, owner.clientSecret));
  let active = true;
  for (let i = 0; i < 20 && active; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    active = (await post(second, '/oauth/introspect', { token }, auth)).json().active;
  }
  t.equal(active, false);
});

t.test('GET on introspection and revocation is 405', async (t) => {
  const server = await build(t);
  for (const url of ['/oauth/introspect', '/oauth/revoke']) {
    const res = await server.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 405);
    t.equal(res.headers.allow, 'POST');
  }
});
