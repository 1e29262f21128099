import { randomUUID } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import t, { type Test as TapTest } from 'tap';
import { auditEvents } from '../../src/db/schema.js';
import { checkAccessToken } from '../../src/oauth/access-tokens.js';
import {
  addClient,
  addService,
  basicAuth,
  buildWithAdmin,
  CREDENTIAL_SETTINGS,
  eventually,
  ISSUER,
  postToken,
  type TestLike,
  type TestServer,
} from '../helpers.js';

// Token exchange (RFC 8693): a vendor's token, exchanged by the orders service for a token
// meant for the ledger, and on down a chain; every rule of the grant, and every refusal.

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read', 'orders:write'] };
const LEDGER = { id: 'ledger', audience: 'https://ledger.example', scopes: ['ledger:read', 'ledger:write'] };
const REPORTS = { id: 'reports', audience: 'https://reports.example', scopes: ['reports:read'] };
const ARCHIVE = { id: 'archive', audience: 'https://archive.example', scopes: ['archive:write'] };

type Client = { clientId: string; clientSecret: string; uuid: string };

async function setup(t: TestLike, options: Parameters<typeof buildWithAdmin>[1] = {}) {
  const server = await buildWithAdmin(t, options);
  for (const service of [ORDERS, LEDGER, REPORTS, ARCHIVE]) await addService(server.database, service);
  const vendor = await addClient(server, {
    client_id: 'vendor-eaglebe',
    grants: [
      { service: 'orders', scopes: ['orders:read', 'orders:write'] },
      { service: 'ledger', scopes: ['ledger:read'] },
    ],
  });
  // The orders service: may act for the vendor at the ledger.
  const orders = await addClient(server, {
    client_id: 'orders-svc',
    grants: [{ service: 'ledger', scopes: ['ledger:read', 'ledger:write'], exchange: { subjects: ['vendor-eaglebe'] } }],
  });
  // The ledger: may act for anyone at reports.
  const ledger = await addClient(server, {
    client_id: 'ledger-svc',
    grants: [{ service: 'reports', scopes: ['reports:read'], exchange: { subjects: ['*'] } }],
  });
  // Reports: may act for anyone at the archive.
  const reports = await addClient(server, {
    client_id: 'reports-svc',
    grants: [{ service: 'archive', scopes: ['archive:write'], exchange: { subjects: ['*'] } }],
  });
  // Granted the ledger, but no exchange.
  const plain = await addClient(server, { client_id: 'plain-svc', grants: [{ service: 'ledger', scopes: ['ledger:read'] }] });
  return { server, vendor, orders, ledger, reports, plain };
}

async function tokenOf(server: TestServer, client: Client, form: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const res = await postToken(
    server.app,
    { grant_type: 'client_credentials', ...form },
    { authorization: basicAuth(client.clientId, client.clientSecret), ...headers },
  );
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode} ${res.body}`);
  return (res.json() as { access_token: string }).access_token;
}

function exchange(server: TestServer, actor: Client, form: Record<string, string>, headers: Record<string, string> = {}) {
  return postToken(
    server.app,
    { grant_type: EXCHANGE, subject_token_type: ACCESS_TOKEN, ...form },
    { authorization: basicAuth(actor.clientId, actor.clientSecret), ...headers },
  );
}

function refusal(t: TapTest, res: Awaited<ReturnType<typeof postToken>>, error: string, description: RegExp, message: string) {
  t.equal(res.statusCode, 400, `${message}: 400`);
  const body = res.json() as { error: string; error_description: string };
  t.equal(body.error, error, `${message}: ${error}`);
  t.match(body.error_description, description, `${message}: says why`);
}

t.test('vendor → orders → ledger: the subject stays, the actor is named, scopes narrow', async (t) => {
  const { server, vendor, orders } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const res = await exchange(server, orders, { subject_token: vendorToken, resource: LEDGER.audience });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json() as Record<string, unknown>;
  t.equal(body.issued_token_type, ACCESS_TOKEN);
  t.equal(body.token_type, 'Bearer');
  // Omitted scope: what both allow at the ledger (the vendor has ledger:read only).
  t.equal(body.scope, 'ledger:read');
  const claims = decodeJwt(String(body.access_token));
  t.equal(claims.sub, vendor.uuid, 'the subject is the vendor');
  t.equal(claims.client_id, 'vendor-eaglebe');
  t.equal(claims.aud, LEDGER.audience);
  t.same(claims.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });
  t.equal(claims.preferred_username, 'service-account-vendor-eaglebe');

  // requested_token_type jwt: the same token, said to be a JWT.
  const asJwt = await exchange(server, orders, { subject_token: vendorToken, subject_token_type: JWT, requested_token_type: JWT });
  t.equal(asJwt.statusCode, 200, asJwt.body);
  t.equal(asJwt.json().issued_token_type, JWT);

  // Introspection shows who acts.
  const introspection = await server.app.inject({
    method: 'POST',
    url: '/oauth/introspect',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(orders.clientId, orders.clientSecret) },
    payload: new URLSearchParams({ token: String(body.access_token) }).toString(),
  });
  const introspected = introspection.json();
  t.equal(introspected.active, true);
  t.equal(introspected.client_id, 'vendor-eaglebe');
  t.same(introspected.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });

  // The audit trail: who acted for whom, where, with what; the repeat counted at the window's end.
  const rows = await eventually(
    () => server.database.db.select().from(auditEvents),
    (events) => events.some((event) => event.action === 'token.exchanged'),
  );
  const row = rows.find((event) => event.action === 'token.exchanged');
  t.equal(row?.actorClientId, 'orders-svc');
  t.equal(row?.clientId, 'vendor-eaglebe');
  t.same(row?.details, { subject: 'vendor-eaglebe', actor: 'orders-svc', target: ['ledger'], scopes: ['ledger:read'] });
  await server.app.portier.exchanges.flush();
  const exchanged = (await server.database.db.select().from(auditEvents)).filter((event) => event.action === 'token.exchanged');
  t.same(
    exchanged.map((event) => event.count),
    [1, 1],
    'the same exchange again is counted in the row at the end of the window',
  );

  // Usage counts the actor's tokens.
  await server.app.portier.usage.flush();
  const usage = await server.admin('GET', '/admin/clients/orders-svc/usage');
  const tokens = (usage.json() as { buckets: Array<{ tokens: number }> }).buckets.reduce((sum, bucket) => sum + bucket.tokens, 0);
  t.equal(tokens, 2, 'both exchanges count as the orders service tokens');
});

t.test('a chain nests act, and stops at TOKEN_EXCHANGE_MAX_DEPTH', async (t) => {
  const { server, vendor, orders, ledger, reports } = await setup(t, { config: { tokenExchangeMaxDepth: 2 } });
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const atLedger = (await exchange(server, orders, { subject_token: vendorToken })).json().access_token as string;
  const res = await exchange(server, ledger, { subject_token: atLedger });
  t.equal(res.statusCode, 200, res.body);
  const claims = decodeJwt(res.json().access_token);
  t.equal(claims.sub, vendor.uuid);
  t.equal(claims.aud, REPORTS.audience);
  t.same(claims.act, {
    sub: 'service-account-ledger-svc',
    client_id: 'ledger-svc',
    act: { sub: 'service-account-orders-svc', client_id: 'orders-svc' },
  });
  // The vendor has no grant at reports: the ledger's grant alone bounds the scopes.
  t.equal(claims.scope, 'reports:read');
  refusal(
    t,
    await exchange(server, reports, { subject_token: res.json().access_token }),
    'invalid_request',
    /3 actors deep; at most 2/,
    'a third actor',
  );
});

t.test('scopes never widen: neither beyond the actor nor beyond the subject', async (t) => {
  const { server, vendor, orders } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, scope: 'ledger:write' }),
    'invalid_scope',
    /ledger:write/,
    "beyond the vendor's grant",
  );
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, scope: 'orders:read' }),
    'invalid_scope',
    /orders:read/,
    'another service',
  );
  const ok = await exchange(server, orders, { subject_token: vendorToken, scope: 'ledger:read' });
  t.equal(ok.json().scope, 'ledger:read');
});

t.test('who may exchange for whom: the grant, the subject list, may_act', async (t) => {
  const { server, vendor, orders, plain } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  refusal(
    t,
    await exchange(server, plain, { subject_token: vendorToken }),
    'unauthorized_client',
    /may not exchange tokens for the service "ledger"/,
    'no exchange',
  );
  const stranger = await addClient(server, { client_id: 'stranger', grants: [{ service: 'orders', scopes: ['orders:read'] }] });
  const strangerToken = await tokenOf(server, stranger);
  refusal(
    t,
    await exchange(server, orders, { subject_token: strangerToken }),
    'invalid_request',
    /may not act for "stranger"/,
    'a subject not listed',
  );
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, resource: REPORTS.audience }),
    'invalid_target',
    /not granted/,
    'a target not granted',
  );

  // The vendor names who may act for it.
  const billing = await addClient(server, {
    client_id: 'billing-svc',
    grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe'] } }],
  });
  const patched = await server.admin('PATCH', '/admin/clients/vendor-eaglebe', { may_act: ['orders-svc'] });
  t.equal(patched.statusCode, 200, patched.body);
  t.same(patched.json().may_act, ['orders-svc']);
  const limited = await tokenOf(server, vendor, { resource: ORDERS.audience });
  t.same(decodeJwt(limited).may_act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });
  refusal(t, await exchange(server, billing, { subject_token: limited }), 'invalid_request', /may_act/, 'an actor may_act does not name');
  t.equal((await exchange(server, orders, { subject_token: limited })).statusCode, 200, 'the actor may_act names');
  await server.admin('PATCH', '/admin/clients/vendor-eaglebe', { may_act: ['orders-svc', 'billing-svc'] });
  const both = await tokenOf(server, vendor, { resource: ORDERS.audience });
  t.same(decodeJwt(both).may_act, { client_id: ['orders-svc', 'billing-svc'] });
  t.equal((await exchange(server, billing, { subject_token: both })).statusCode, 200, 'either of several');
});

t.test('the new token lives no longer than the subject token, nor than the target allows', async (t) => {
  const { server, vendor, orders } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  server.clock.advance(3500_000);
  const late = await exchange(server, orders, { subject_token: vendorToken });
  t.equal(late.statusCode, 200, late.body);
  t.ok(late.json().expires_in <= 100, `at most what the subject token has left (${late.json().expires_in} s)`);
  const claims = decodeJwt(vendorToken);
  t.ok(Number(decodeJwt(late.json().access_token).exp) <= Number(claims.exp), 'exp no later than the subject token');

  const { services } = await import('../../src/db/schema.js');
  const { eq } = await import('drizzle-orm');
  await server.database.db.update(services).set({ accessTokenTtl: 300 }).where(eq(services.id, 'ledger'));
  server.app.portier.generation.changed();
  const fresh = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const short = await eventually(
    () => exchange(server, orders, { subject_token: fresh }),
    (res) => res.json().expires_in === 300,
  );
  t.equal(short.json().expires_in, 300, "the target's lifetime");
});

t.test('bad subject tokens: revoked, expired, unsigned, foreign, a disabled subject', async (t) => {
  const { server, vendor, orders } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  const revoked = await tokenOf(server, vendor, { resource: ORDERS.audience });
  await server.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(vendor.clientId, vendor.clientSecret) },
    payload: new URLSearchParams({ token: revoked }).toString(),
  });
  refusal(t, await exchange(server, orders, { subject_token: revoked }), 'invalid_request', /not an active access token/, 'revoked');

  const [header, payload] = vendorToken.split('.');
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
  refusal(t, await exchange(server, orders, { subject_token: unsigned }), 'invalid_request', /not an active access token/, 'unsigned');
  refusal(
    t,
    await exchange(server, orders, { subject_token: `${header}.${payload}.AAAA` }),
    'invalid_request',
    /not an active/,
    'a bad signature',
  );
  refusal(t, await exchange(server, orders, { subject_token: 'not-a-jwt' }), 'invalid_request', /not issued by this server/, 'garbage');

  // Signed by someone else's key, claiming to be ours.
  const { privateKey } = await generateKeyPair('ES256');
  const forged = await new SignJWT({ ...decodeJwt(vendorToken) }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' }).sign(privateKey);
  refusal(t, await exchange(server, orders, { subject_token: forged }), 'invalid_request', /not an active/, 'a foreign signature');
  // Another issuer's token, as an access token: not ours, and no trusted issuer either.
  const foreign = await new SignJWT({ sub: 'x', client_id: 'vendor-eaglebe' })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer('https://elsewhere.example')
    .setExpirationTime('5m')
    .sign(privateKey);
  refusal(t, await exchange(server, orders, { subject_token: foreign }), 'invalid_request', /not issued by this server/, 'another issuer');

  await server.admin('POST', '/admin/clients/vendor-eaglebe/disable');
  refusal(
    t,
    await eventually(
      () => exchange(server, orders, { subject_token: vendorToken }),
      (res) => res.statusCode === 400,
    ),
    'invalid_request',
    /not an active/,
    'a disabled subject',
  );
  await server.admin('POST', '/admin/clients/vendor-eaglebe/enable');
  t.equal((await exchange(server, orders, { subject_token: vendorToken })).statusCode, 200, 'enabled again: verified (and remembered)');
  // An emergency rotation withdraws the key that signed it: the remembered verification goes with it.
  const rotated = await server.admin('POST', '/admin/keys/rotate', { emergency: true });
  t.equal(rotated.statusCode, 200, rotated.body);
  refusal(t, await exchange(server, orders, { subject_token: vendorToken }), 'invalid_request', /not an active/, 'its key withdrawn');
  server.clock.advance(3601_000);
  refusal(t, await exchange(server, orders, { subject_token: vendorToken }), 'invalid_request', /not an active/, 'expired');
});

t.test('a remembered subject token (verified once): still checked for audience, revocation and expiry on every use', async (t) => {
  const { server, vendor, orders } = await setup(t);
  const ctx = server.app.portier.tokenEndpoint;
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  for (const round of ['verified', 'remembered']) {
    t.equal((await exchange(server, orders, { subject_token: vendorToken })).statusCode, 200, `exchanged (${round})`);
  }
  // The admin API asks the same check for its own audience: a remembered token is no key to it.
  t.same(await checkAccessToken(ctx, vendorToken, `${ISSUER}/admin`), { active: false, reason: 'the access token is invalid or expired' });
  t.equal((await checkAccessToken(ctx, vendorToken, ORDERS.audience)).active, true, 'the audience it is for');

  await server.app.inject({
    method: 'POST',
    url: '/oauth/revoke',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(vendor.clientId, vendor.clientSecret) },
    payload: new URLSearchParams({ token: vendorToken }).toString(),
  });
  refusal(t, await exchange(server, orders, { subject_token: vendorToken }), 'invalid_request', /not an active/, 'revoked once remembered');

  const another = await tokenOf(server, vendor, { resource: ORDERS.audience });
  t.equal((await exchange(server, orders, { subject_token: another })).statusCode, 200, 'another token, remembered');
  server.clock.advance(3601_000);
  refusal(t, await exchange(server, orders, { subject_token: another }), 'invalid_request', /not an active/, 'expired once remembered');
});

t.test('bad requests: token types, missing parameters, an actor_token of someone else', async (t) => {
  const { server, vendor, orders, plain } = await setup(t);
  const vendorToken = await tokenOf(server, vendor, { resource: ORDERS.audience });
  refusal(t, await exchange(server, orders, {}), 'invalid_request', /subject_token is required/, 'no subject_token');
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, subject_token_type: '' }),
    'invalid_request',
    /subject_token_type is required/,
    'no type',
  );
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }),
    'invalid_request',
    /not supported/,
    'a SAML subject',
  );
  for (const type of ['refresh_token', 'id_token']) {
    refusal(
      t,
      await exchange(server, orders, { subject_token: vendorToken, requested_token_type: `urn:ietf:params:oauth:token-type:${type}` }),
      'invalid_request',
      /cannot be issued/,
      `requested ${type}`,
    );
  }
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, actor_token: 'x' }),
    'invalid_request',
    /together/,
    'actor_token alone',
  );
  const plainToken = await tokenOf(server, plain);
  refusal(
    t,
    await exchange(server, orders, { subject_token: vendorToken, actor_token: plainToken, actor_token_type: ACCESS_TOKEN }),
    'invalid_request',
    /actor_token must be an access token of the requesting client/,
    "another client's actor_token",
  );
  const own = await tokenOf(server, orders);
  const ok = await exchange(server, orders, { subject_token: vendorToken, actor_token: own, actor_token_type: ACCESS_TOKEN });
  t.equal(ok.statusCode, 200, "the client's own actor_token");
  // A wrong secret is still a failed client authentication, before anything about the tokens.
  const res = await postToken(
    server.app,
    { grant_type: EXCHANGE, subject_token: vendorToken, subject_token_type: ACCESS_TOKEN },
    { authorization: basicAuth(orders.clientId, 'wrong') },
  );
  t.equal(res.statusCode, 401);
  t.equal(res.json().error, 'invalid_client');
  // Discovery lists the grant.
  const metadata = (await server.app.inject('/.well-known/oauth-authorization-server')).json();
  t.ok(metadata.grant_types_supported.includes(EXCHANGE));
  // Refusals are audited.
  const denials = await eventually(
    () => server.database.db.select().from(auditEvents),
    (events) => events.some((event) => event.action === 'token.denied' && event.clientId === 'orders-svc'),
  );
  t.ok(
    denials.some(
      (event) => event.action === 'token.denied' && String((event.details as { reason: string }).reason).includes('actor_token'),
    ),
  );
});

t.test('a DPoP-bound subject token is exchanged only with a proof of its key', async (t) => {
  const { server, orders } = await setup(t);
  const bound = await addClient(server, {
    client_id: 'bound-vendor',
    dpop_bound: true,
    grants: [{ service: 'orders', scopes: ['orders:read'] }],
  });
  await server.admin('PATCH', '/admin/clients/orders-svc', {
    grants: [{ service: 'ledger', scopes: ['ledger:read', 'ledger:write'], exchange: { subjects: ['vendor-eaglebe', 'bound-vendor'] } }],
  });
  const key = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(key.publicKey);
  const proof = async (privateKey: CryptoKey, publicJwk: JWK) =>
    new SignJWT({ htm: 'POST', htu: `${ISSUER}/oauth/token`, iat: Math.floor(server.clock.now() / 1000), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
      .sign(privateKey);
  const subjectToken = await tokenOf(server, bound, {}, { dpop: await proof(key.privateKey, jwk) });
  const jkt = await calculateJwkThumbprint(jwk);
  t.same(decodeJwt(subjectToken).cnf, { jkt });

  refusal(
    t,
    await exchange(server, orders, { subject_token: subjectToken }),
    'invalid_request',
    /DPoP-bound: send a DPoP proof/,
    'without a proof',
  );
  const other = await generateKeyPair('ES256', { extractable: true });
  refusal(
    t,
    await exchange(
      server,
      orders,
      { subject_token: subjectToken },
      { dpop: await proof(other.privateKey, await exportJWK(other.publicKey)) },
    ),
    'invalid_request',
    /another key/,
    "another key's proof",
  );
  const res = await exchange(server, orders, { subject_token: subjectToken }, { dpop: await proof(key.privateKey, jwk) });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().token_type, 'DPoP');
  t.same(decodeJwt(res.json().access_token).cnf, { jkt }, 'bound to the same key');
});

t.test("a grant's exchange: its subjects checked, and shown", async (t) => {
  const { server } = await setup(t);
  const res = await server.admin('POST', '/admin/clients', {
    client_id: 'bad-exchange',
    name: 'Bad',
    owner: 'x',
    grants: [{ service: 'ledger', scopes: [], exchange: { subjects: ['Not a client!'] } }],
  });
  t.equal(res.statusCode, 400, 'a subject that is neither a client_id, issuer:<id> nor *');
  const good = await server.admin('POST', '/admin/clients', {
    client_id: 'good-exchange',
    name: 'Good',
    owner: 'x',
    grants: [{ service: 'ledger', scopes: [], exchange: { subjects: ['issuer:corp-entra', '*', 'vendor-eaglebe'] } }],
  });
  t.equal(good.statusCode, 201, good.body);
  t.same(good.json().grants, [{ service: 'ledger', scopes: [], exchange: { subjects: ['issuer:corp-entra', '*', 'vendor-eaglebe'] } }]);
});

t.test('an operator keeps the exchange an admin set, and cannot give one', async (t) => {
  const { server } = await setup(t);
  const { updateClient } = await import('../../src/clients/lifecycle.js');
  const { ValidationError } = await import('../../src/lib/errors.js');
  const { CLI_ACTOR } = await import('../helpers.js');
  const operator = { kind: 'owner', owner: 'user-1' } as const;
  const db = server.database.db;
  const keep = [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe'] } }];
  const kept = await updateClient(db, 'orders-svc', { grants: keep }, CLI_ACTOR, Date.now(), operator, CREDENTIAL_SETTINGS);
  t.same(kept.client.grants[0]?.exchange, { subjects: ['vendor-eaglebe'] }, 'the same exchange (narrower scopes): allowed');
  const widened = await updateClient(
    db,
    'orders-svc',
    { grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['*'] } }] },
    CLI_ACTOR,
    Date.now(),
    operator,
    CREDENTIAL_SETTINGS,
  ).catch((error: unknown) => error);
  t.ok(widened instanceof ValidationError, 'another exchange: refused');
  t.match((widened as InstanceType<typeof ValidationError>).errors, [{ path: '/grants/0/exchange' }]);
  const given = await updateClient(
    db,
    'plain-svc',
    { grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['vendor-eaglebe'] } }] },
    CLI_ACTOR,
    Date.now(),
    operator,
    CREDENTIAL_SETTINGS,
  ).catch((error: unknown) => error);
  t.ok(given instanceof ValidationError, 'an exchange where there was none: refused');
});
