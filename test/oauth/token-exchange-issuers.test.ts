import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { auditEvents } from '../../src/db/schema.js';
import { addClient, addService, basicAuth, buildWithAdmin, eventually, ISSUER, openBudgets, postToken } from '../helpers.js';
import { type Platform, platformFetchConfig, platformServer } from '../platforms.js';

// Token exchange with a trusted issuer's token as the subject (a person's token from the
// company's identity provider, played by an HTTPS issuer on 127.0.0.1 with a certificate
// made for the test), and the JWT bearer grant (RFC 7523 §2.1) with such a token.

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const LEDGER = { id: 'ledger', audience: 'https://ledger.example', scopes: ['ledger:read', 'ledger:write'] };

async function setup(t: Test) {
  const server = await buildWithAdmin(t, { config: { ...platformFetchConfig(), protection: openBudgets() } });
  await addService(server.database, LEDGER);
  const platforms = await platformServer(t);
  const corp = await platforms.platform('corp', 'ES256');
  const other = await platforms.platform('other', 'ES256');
  const trusted = await server.admin('POST', '/admin/trusted-issuers', { id: 'corp-entra', issuer: corp.issuer, token_exchange: true });
  t.equal(trusted.statusCode, 201, trusted.body);
  t.equal(trusted.json().token_exchange, true);
  t.equal(trusted.json().jwt_bearer, false);
  await server.admin('POST', '/admin/trusted-issuers', { id: 'other-idp', issuer: other.issuer });
  const orders = await addClient(server, {
    client_id: 'orders-svc',
    grants: [{ service: 'ledger', scopes: ['ledger:read'], exchange: { subjects: ['issuer:corp-entra'] } }],
  });
  const personToken = (platform: Platform, claims: Record<string, unknown> = {}) => {
    const now = Math.floor(server.clock.now() / 1000);
    return platform.sign({ sub: 'alice', aud: ISSUER, iat: now, exp: now + 600, ...claims });
  };
  const exchange = (form: Record<string, string>) =>
    postToken(
      server.app,
      { grant_type: EXCHANGE, subject_token_type: ID_TOKEN, ...form },
      { authorization: basicAuth(orders.clientId, orders.clientSecret) },
    );
  return { server, corp, other, orders, personToken, exchange };
}

function refused(t: Test, res: Awaited<ReturnType<typeof postToken>>, error: string, what: string) {
  t.equal(res.statusCode, 400, `${what}: 400`);
  t.equal(res.json().error, error, `${what}: ${error}`);
}

t.test("a trusted issuer's token as the subject: sub <issuer id>:<sub>, no client_id, the actor in act", async (t) => {
  const { server, corp, personToken, exchange } = await setup(t);
  const res = await exchange({ subject_token: await personToken(corp) });
  t.equal(res.statusCode, 200, res.body);
  t.ok(res.json().expires_in <= 600, 'no longer than the subject token');
  const claims = decodeJwt(res.json().access_token);
  t.equal(claims.sub, 'corp-entra:alice');
  t.equal(claims.client_id, undefined, 'no client_id');
  t.equal(claims.aud, LEDGER.audience);
  t.equal(claims.scope, 'ledger:read', "the actor's grant bounds the scopes");
  t.same(claims.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });
  // As a jwt too.
  t.equal((await exchange({ subject_token: await personToken(corp), subject_token_type: JWT })).statusCode, 200);
  const rows = await eventually(
    () => server.database.db.select().from(auditEvents),
    (events) => events.some((event) => event.action === 'token.exchanged'),
  );
  t.match(rows.find((event) => event.action === 'token.exchanged')?.details, { subject: 'corp-entra:alice', actor: 'orders-svc' });
});

t.test("refused: an issuer without token_exchange, one the grant does not list, an expired or another audience's token", async (t) => {
  const { server, corp, other, personToken, exchange } = await setup(t);
  refused(t, await exchange({ subject_token: await personToken(other) }), 'invalid_request', 'an issuer without token_exchange');
  await server.admin('PATCH', '/admin/trusted-issuers/other-idp', { token_exchange: true });
  // The change is in force on this instance before the admin API answers.
  refused(t, await exchange({ subject_token: await personToken(other) }), 'invalid_request', 'an issuer the grant does not list');
  const now = Math.floor(server.clock.now() / 1000);
  refused(
    t,
    await exchange({ subject_token: await personToken(corp, { iat: now - 7200, exp: now - 3600 }) }),
    'invalid_request',
    'expired',
  );
  refused(
    t,
    await exchange({ subject_token: await personToken(corp, { aud: 'https://elsewhere.example' }) }),
    'invalid_request',
    'another audience',
  );
  refused(
    t,
    await exchange({ subject_token: await personToken(corp, {}).then((token) => `${token.slice(0, -4)}AAAA`) }),
    'invalid_request',
    'a bad signature',
  );
  const [, payload] = (await personToken(corp)).split('.');
  const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
  refused(t, await exchange({ subject_token: unsigned }), 'invalid_request', 'unsigned');
});

t.test('the JWT bearer grant: a trusted issuer with jwt_bearer, for the client whose identity matches', async (t) => {
  const { server, corp, orders, personToken } = await setup(t);
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'alice-app',
    name: 'Alice app',
    owner: 'alice',
    auth_method: 'federated',
    federated_identities: [{ issuer: 'corp-entra', subject: 'alice' }],
    grants: [{ service: 'ledger', scopes: ['ledger:read'] }],
  });
  t.equal(created.statusCode, 201, created.body);
  const bearer = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    postToken(server.app, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', ...form }, headers);

  refused(t, await bearer({ assertion: await personToken(corp) }), 'invalid_grant', 'an issuer without jwt_bearer');
  await server.admin('PATCH', '/admin/trusted-issuers/corp-entra', { jwt_bearer: true });
  const res = await bearer({ assertion: await personToken(corp) });
  t.equal(res.statusCode, 200, res.body);
  const claims = decodeJwt(res.json().access_token);
  t.equal(claims.client_id, 'alice-app');
  t.same(claims.federated_identity, { issuer: 'corp-entra', subject: 'alice' });
  t.equal(res.json().issued_token_type, undefined, 'no issued_token_type: not an exchange');
  t.equal((await bearer({ assertion: await personToken(corp), client_id: 'alice-app' })).statusCode, 200, 'with client_id');

  refused(t, await bearer({ assertion: await personToken(corp, { sub: 'bob' }) }), 'invalid_grant', 'nobody has that identity');
  refused(
    t,
    await bearer({ assertion: await personToken(corp), client_id: 'orders-svc' }),
    'invalid_grant',
    'a client_id it does not match',
  );
  refused(
    t,
    await bearer({ assertion: await personToken(corp) }, { authorization: basicAuth(orders.clientId, orders.clientSecret) }),
    'invalid_grant',
    'another authenticated client',
  );
  const now = Math.floor(server.clock.now() / 1000);
  refused(t, await bearer({ assertion: await personToken(corp, { iat: now - 7200, exp: now - 3600 }) }), 'invalid_grant', 'expired');
  refused(t, await bearer({}), 'invalid_request', 'no assertion');
  const wrongSecret = await bearer({ assertion: await personToken(corp) }, { authorization: basicAuth(orders.clientId, 'wrong') });
  t.equal(wrongSecret.json().error, 'invalid_client', 'a failed client authentication stays invalid_client');
  const metadata = (await server.app.inject('/.well-known/oauth-authorization-server')).json();
  t.ok(metadata.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:jwt-bearer'), 'discovery lists the grant');
});

t.test("the JWT bearer grant's refusals say which rule the assertion failed; the audit trail names the client found", async (t) => {
  const { server, corp, personToken } = await setup(t);
  await server.admin('PATCH', '/admin/trusted-issuers/corp-entra', { jwt_bearer: true });
  const federated = (clientId: string, extra: Record<string, unknown> = {}) =>
    server.admin('POST', '/admin/clients', {
      client_id: clientId,
      name: clientId,
      owner: 'alice',
      auth_method: 'federated',
      federated_identities: [{ issuer: 'corp-entra', subject: 'alice' }],
      grants: [{ service: 'ledger', scopes: ['ledger:read'] }],
      ...extra,
    });
  t.equal((await federated('alice-app')).statusCode, 201);
  const bearer = async (form: Record<string, string>) =>
    postToken(server.app, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await personToken(corp), ...form });
  const says = (res: Awaited<ReturnType<typeof postToken>>, description: string, what: string) => {
    refused(t, res, 'invalid_grant', what);
    t.equal(res.json().error_description, description, `${what}: says which rule`);
  };

  says(await bearer({ assertion: await personToken(corp, { sub: 'bob' }) }), 'no client has an identity matching the assertion', 'nobody');
  says(await bearer({ client_id: 'orders-svc' }), 'the assertion does not match an identity of the client', 'a client it does not match');
  says(await bearer({ client_id: 'no-such-app' }), 'the assertion does not match an identity of the client', 'an unknown client');
  t.equal((await federated('alice-cli')).statusCode, 201);
  says(await bearer({}), 'several clients match the assertion: send client_id', 'two clients match');
  t.equal((await bearer({ client_id: 'alice-cli' })).statusCode, 200, 'the one named');
  await server.admin('POST', '/admin/clients/alice-cli/disable');
  says(await bearer({ client_id: 'alice-cli' }), 'the client of the assertion is not active', 'disabled');
  t.equal((await federated('alice-fenced', { ip_ranges: ['192.0.2.0/24'] })).statusCode, 201);
  says(
    await bearer({ client_id: 'alice-fenced' }),
    'the client of the assertion may not be used from this address',
    'outside its IP ranges',
  );

  const rows = await eventually(
    () => server.database.db.select().from(auditEvents),
    // The refusal's row, not the client's creation: denials are written a moment later.
    (all) => all.some((row) => row.action === 'token.denied' && row.clientId === 'alice-fenced'),
  );
  const denied = (clientId: string) => rows.filter((row) => row.action === 'token.denied' && row.clientId === clientId);
  t.ok(denied('orders-svc').length > 0, 'a client it does not match is named');
  t.match(JSON.stringify(denied('alice-fenced')), /outside the client's IP ranges/, 'the private detail says why');
});

t.test("a token for a trusted issuer's subject: introspected, exchanged again with act nested, revoked by its actor", async (t) => {
  const { server, corp, orders, personToken, exchange } = await setup(t);
  await addService(server.database, { id: 'reports', audience: 'https://reports.example', scopes: ['reports:read'] });
  const ledger = await addClient(server, {
    client_id: 'ledger-svc',
    grants: [{ service: 'reports', scopes: ['reports:read'], exchange: { subjects: ['issuer:corp-entra'] } }],
  });
  const vendorOnly = await addClient(server, {
    client_id: 'vendor-only',
    grants: [{ service: 'reports', scopes: ['reports:read'], exchange: { subjects: ['orders-svc'] } }],
  });
  const first = await exchange({ subject_token: await personToken(corp) });
  t.equal(first.statusCode, 200, first.body);
  const token = first.json().access_token as string;
  const introspect = (what: string, as = orders) =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/introspect',
      headers: { authorization: basicAuth(as.clientId, as.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: what }).toString(),
    });
  const seen = (await introspect(token)).json();
  t.match(seen, { active: true, sub: 'corp-entra:alice', aud: LEDGER.audience, scope: 'ledger:read', token_type: 'Bearer' });
  t.same(seen.act, { sub: 'service-account-orders-svc', client_id: 'orders-svc' });
  t.equal(seen.client_id, undefined, 'no client_id: the subject is no client');
  t.equal(seen.username, undefined);

  const again = (as: { clientId: string; clientSecret: string }, subject = token) =>
    postToken(
      server.app,
      {
        grant_type: EXCHANGE,
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        resource: 'https://reports.example',
      },
      { authorization: basicAuth(as.clientId, as.clientSecret) },
    );
  const second = await again(ledger);
  t.equal(second.statusCode, 200, second.body);
  const claims = decodeJwt(second.json().access_token);
  t.equal(claims.sub, 'corp-entra:alice', 'the same subject');
  t.equal(claims.client_id, undefined);
  t.same(claims.act, {
    sub: 'service-account-ledger-svc',
    client_id: 'ledger-svc',
    act: { sub: 'service-account-orders-svc', client_id: 'orders-svc' },
  });
  t.ok(Number(claims.exp) <= Number(decodeJwt(token).exp), 'no longer than the token it was exchanged for');
  t.same((await introspect(second.json().access_token, ledger)).json().act, claims.act, 'introspection shows the chain');
  refused(t, await again(vendorOnly), 'invalid_request', 'a grant that does not list the issuer');

  // Only the client that got it may revoke it; then it is neither active nor exchangeable.
  const revoke = (as: { clientId: string; clientSecret: string }) =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { authorization: basicAuth(as.clientId, as.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });
  t.equal((await revoke(ledger)).statusCode, 400, 'another client may not revoke it');
  t.equal((await introspect(token)).json().active, true);
  t.equal((await revoke(orders)).statusCode, 200);
  t.same((await introspect(token)).json(), { active: false });
  refused(t, await again(ledger), 'invalid_request', 'a revoked token');

  // An issuer no longer trusted for token exchange ends its subjects' tokens.
  const other = second.json().access_token as string;
  t.equal((await introspect(other, ledger)).json().active, true);
  await server.admin('PATCH', '/admin/trusted-issuers/corp-entra', { token_exchange: false });
  t.same((await introspect(other, ledger)).json(), { active: false }, 'token_exchange turned off');
});

t.test("a token for a trusted issuer's subject is no key to the admin API", async (t) => {
  const { server } = await setup(t);
  // A client_id-less token signed by Portier's own key, for the admin API's audience.
  const { draftAccessToken, signAccessToken } = await import('../../src/oauth/issue.js');
  const draft = draftAccessToken({
    issuer: ISSUER,
    ttl: 300,
    subject: { external: 'corp-entra:alice' },
    services: [
      { serviceId: 'admin', audience: `${ISSUER}/admin`, scopes: ['admin:write'], accessTokenTtl: null, claims: {}, exchange: null },
    ],
    scopes: ['admin:write'],
    now: server.clock.now(),
  });
  const signed = await signAccessToken((await server.app.portier.keys.get()).active, draft);
  const res = await server.admin('GET', '/admin/clients', undefined, signed.accessToken);
  t.equal(res.statusCode, 401);
});
