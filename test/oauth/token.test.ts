import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import t, { type Test } from 'tap';
import { getClient } from '../../src/clients/clients.js';
import { auditEvents, clients } from '../../src/db/schema.js';
import { expectOAuthError } from '../expect.js';
import { addClient, addService, basicAuth, build, captureLogs, eventually, ISSUER, postToken, type TestServer } from '../helpers.js';

// POST /oauth/token, the successful path: both client authentication methods, scope and
// resource/audience selection, what the log never holds, and last_used_at.

type Response = Awaited<ReturnType<typeof postToken>>;

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write', 'events:admin'] };
const BILLING = { id: 'billing', audience: 'https://billing.example/api', scopes: ['billing:read'] };
const REPORTS = { id: 'reports', audience: 'urn:example:reports', scopes: ['reports:read'] };

async function addServices(server: TestServer): Promise<void> {
  for (const service of [EVENTS, BILLING, REPORTS]) await addService(server.database, service);
}

/** A 200 token response; returns its body and the decoded claims. */
function expectToken(t: Test, response: Response, label = '') {
  const what = label === '' ? '' : `${label}: `;
  t.equal(response.statusCode, 200, `${what}200`);
  const body = response.json() as { access_token: string; token_type: string; expires_in: number; scope: string };
  return { body, claims: decodeJwt(body.access_token) };
}

t.test('success with client_secret_basic and client_secret_post', async (t) => {
  const server = await build(t);
  await addServices(server);
  const client = await addClient(server, {
    first_name: 'Eaglebe',
    last_name: 'Events',
    roles: ['events-reader'],
    grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }],
  });

  const viaBasic = await postToken(
    server.app,
    { grant_type: 'client_credentials' },
    { authorization: basicAuth(client.clientId, client.clientSecret) },
  );
  const viaPost = await postToken(server.app, {
    grant_type: 'client_credentials',
    client_id: client.clientId,
    client_secret: client.clientSecret,
  });
  const withCharset = await server.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
      authorization: basicAuth(client.clientId, client.clientSecret),
    },
    payload: 'grant_type=client_credentials',
  });

  for (const [label, response] of [
    ['basic', viaBasic],
    ['post', viaPost],
    ['form with charset', withCharset],
  ] as const) {
    t.test(label, async (t) => {
      t.equal(response.statusCode, 200);
      t.match(response.headers['content-type'], /^application\/json/);
      t.equal(response.headers['cache-control'], 'no-store');
      t.equal(response.headers.pragma, 'no-cache');
      const body = response.json() as Record<string, unknown>;
      t.same(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);
      t.equal(body.token_type, 'Bearer');
      t.equal(body.expires_in, server.config.accessTokenTtl);
      t.equal(body.scope, 'events:read events:write');
      t.type(body.access_token, 'string');

      const token = String(body.access_token);
      const header = decodeProtectedHeader(token);
      t.equal(header.typ, 'at+jwt');
      t.type(header.kid, 'string');
      const claims = decodeJwt(token);
      t.equal(claims.iss, ISSUER);
      t.equal(claims.sub, client.uuid);
      t.equal(claims.aud, EVENTS.audience);
      t.equal(claims.client_id, client.clientId);
      t.equal(claims.scope, 'events:read events:write');
      t.equal(claims.preferred_username, `service-account-${client.clientId}`);
      t.equal(claims.name, 'Eaglebe Events');
      t.same(claims.roles, ['events-reader']);
      t.equal(Number(claims.exp) - Number(claims.iat), server.config.accessTokenTtl);
      t.type(claims.jti, 'string');
    });
  }
  t.not(decodeJwt(viaBasic.json().access_token).jti, decodeJwt(viaPost.json().access_token).jti, 'every token has its own jti');
});

t.test('scope', async (t) => {
  const server = await build(t);
  await addServices(server);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }] });
  const auth = { authorization: basicAuth(client.clientId, client.clientSecret) };
  const ask = (scope?: string) =>
    postToken(server.app, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, auth);

  t.test('a granted subset', async (t) => {
    const { body, claims } = expectToken(t, await ask('events:write'));
    t.equal(body.scope, 'events:write');
    t.equal(claims.scope, 'events:write');
  });

  t.test('omitted or empty: every granted scope', async (t) => {
    t.equal(expectToken(t, await ask()).body.scope, 'events:read events:write');
    t.equal(expectToken(t, await ask('')).body.scope, 'events:read events:write');
  });

  t.test('duplicates collapse', async (t) => {
    const { body, claims } = expectToken(t, await ask('events:read events:read  events:read'));
    t.equal(body.scope, 'events:read');
    t.equal(claims.scope, 'events:read');
  });

  t.test('a scope of the service that was not granted', async (t) => {
    expectOAuthError(t, await ask('events:admin'), 400, 'invalid_scope');
    expectOAuthError(t, await ask('events:read events:admin'), 400, 'invalid_scope', 'one granted, one not');
  });

  t.test('a scope that exists in another service but is not granted', async (t) => {
    expectOAuthError(t, await ask('billing:read'), 400, 'invalid_scope');
  });

  t.test('a scope that exists nowhere', async (t) => {
    expectOAuthError(t, await ask('nonsense'), 400, 'invalid_scope');
  });

  t.test('characters RFC 6749 §3.3 does not allow', async (t) => {
    for (const scope of ['events:read"', 'events\\read', 'événements', 'events:read\tevents:write']) {
      expectOAuthError(t, await ask(scope), 400, 'invalid_scope', JSON.stringify(scope));
    }
  });

  t.equal((await ask()).statusCode, 200, 'still serving');
});

t.test('resource and audience', async (t) => {
  const server = await build(t);
  await addServices(server);
  const single = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const several = await addClient(server, {
    grants: [
      { service: 'events', scopes: ['events:read'] },
      { service: 'billing', scopes: ['billing:read'] },
      { service: 'reports', scopes: ['reports:read'] },
    ],
  });
  const none = await addClient(server, { grants: [] });
  const as = (client: { clientId: string; clientSecret: string }) => ({ authorization: basicAuth(client.clientId, client.clientSecret) });
  const ask = (client: { clientId: string; clientSecret: string }, form: Record<string, string | string[]> = {}) =>
    postToken(server.app, { grant_type: 'client_credentials', ...form }, as(client));

  t.test('one granted service and none asked: that one', async (t) => {
    const { body, claims } = expectToken(t, await ask(single));
    t.equal(claims.aud, EVENTS.audience);
    t.equal(body.scope, 'events:read');
  });

  t.test('several granted and none asked: invalid_target', async (t) => {
    expectOAuthError(t, await ask(several), 400, 'invalid_target');
    expectOAuthError(t, await ask(several, { scope: 'events:read' }), 400, 'invalid_target', 'even with a scope');
  });

  t.test('resource naming a granted audience', async (t) => {
    const { body, claims } = expectToken(t, await ask(several, { resource: BILLING.audience }));
    t.equal(claims.aud, BILLING.audience);
    t.equal(body.scope, 'billing:read', 'omitted scope: the granted scopes of the chosen service only');
    t.equal(expectToken(t, await ask(single, { resource: EVENTS.audience })).claims.aud, EVENTS.audience);
    t.equal(expectToken(t, await ask(several, { resource: REPORTS.audience })).claims.aud, REPORTS.audience, 'a URN audience');
  });

  t.test('two resource parameters: aud is an array of both', async (t) => {
    const { body, claims } = expectToken(t, await ask(several, { resource: [EVENTS.audience, BILLING.audience] }));
    t.same(claims.aud, [EVENTS.audience, BILLING.audience]);
    t.same(body.scope.split(' ').sort(), ['billing:read', 'events:read']);
    const scoped = expectToken(t, await ask(several, { resource: [EVENTS.audience, BILLING.audience], scope: 'billing:read' }));
    t.equal(scoped.body.scope, 'billing:read');
    t.same(scoped.claims.aud, [EVENTS.audience, BILLING.audience]);
  });

  t.test('a scope of a granted service that was not chosen: invalid_scope', async (t) => {
    expectOAuthError(t, await ask(several, { resource: EVENTS.audience, scope: 'billing:read' }), 400, 'invalid_scope');
  });

  t.test('audience (Auth0 style)', async (t) => {
    const { body, claims } = expectToken(t, await ask(several, { audience: EVENTS.audience }));
    t.equal(claims.aud, EVENTS.audience);
    t.equal(body.scope, 'events:read');
    t.equal(expectToken(t, await ask(single, { audience: EVENTS.audience })).claims.aud, EVENTS.audience);
  });

  t.test('not granted or unknown: invalid_target', async (t) => {
    expectOAuthError(t, await ask(single, { resource: BILLING.audience }), 400, 'invalid_target', 'exists, not granted');
    expectOAuthError(t, await ask(single, { audience: BILLING.audience }), 400, 'invalid_target', 'audience: exists, not granted');
    expectOAuthError(t, await ask(single, { resource: 'https://unknown.example' }), 400, 'invalid_target', 'unknown');
    expectOAuthError(t, await ask(single, { audience: 'https://unknown.example' }), 400, 'invalid_target', 'audience: unknown');
    expectOAuthError(
      t,
      await ask(single, { resource: [EVENTS.audience, BILLING.audience] }),
      400,
      'invalid_target',
      'one granted, one not',
    );
    expectOAuthError(t, await ask(several, { resource: 'events' }), 400, 'invalid_target', 'a service id is not an audience');
  });

  t.test('relative or fragment resource: invalid_target', async (t) => {
    for (const resource of ['/events', 'events.example/api', `${EVENTS.audience}#frag`, '']) {
      expectOAuthError(t, await ask(single, { resource }), 400, 'invalid_target', JSON.stringify(resource));
    }
  });

  t.test('resource and audience together: invalid_request', async (t) => {
    expectOAuthError(t, await ask(single, { resource: EVENTS.audience, audience: EVENTS.audience }), 400, 'invalid_request');
  });

  t.test('a client with no grants: invalid_target', async (t) => {
    expectOAuthError(t, await ask(none), 400, 'invalid_target');
    expectOAuthError(t, await ask(none, { resource: EVENTS.audience }), 400, 'invalid_target', 'naming a service');
  });

  t.equal((await ask(single)).statusCode, 200, 'still serving');
});

t.test('logs never contain a secret, an Authorization header or a token', async (t) => {
  const logs = captureLogs('trace');
  const server = await build(t, { logger: logs.logger });
  await addServices(server);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const basic = basicAuth(client.clientId, client.clientSecret);
  const wrongSecret = `${client.clientSecret.slice(0, -4)}WRNG`;
  const wrongBasic = basicAuth(client.clientId, wrongSecret);
  const querySecret = 'portier_cs_query-string-secret-0123456789';

  const tokens: string[] = [];
  const viaBasic = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basic });
  const viaPost = await postToken(server.app, {
    grant_type: 'client_credentials',
    client_id: client.clientId,
    client_secret: client.clientSecret,
  });
  for (const response of [viaBasic, viaPost]) {
    t.equal(response.statusCode, 200);
    tokens.push(response.json().access_token);
  }
  const refusals = [
    await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: wrongBasic }),
    await postToken(server.app, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: wrongSecret }),
    await postToken(
      server.app,
      { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret },
      { authorization: basic },
    ),
    await postToken(server.app, { grant_type: 'password', client_secret: client.clientSecret }, { authorization: basic }),
    await postToken(server.app, { grant_type: 'client_credentials', scope: 'nope' }, { authorization: basic }),
    await server.app.inject({
      method: 'GET',
      url: `/oauth/token?grant_type=client_credentials&client_id=${client.clientId}&client_secret=${querySecret}`,
    }),
    await server.app.inject({
      method: 'POST',
      url: `/oauth/token?client_secret=${querySecret}`,
      headers: { 'content-type': 'application/json', authorization: basic },
      payload: JSON.stringify({ client_secret: client.clientSecret }),
    }),
    // A form POST with a secret in its query string, refused by the handler (and so audited).
    await server.app.inject({
      method: 'POST',
      url: `/oauth/token?client_secret=${querySecret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
      payload: 'grant_type=client_credentials&scope=query-string-request',
    }),
  ];
  for (const response of refusals) t.ok(response.statusCode >= 400 && response.statusCode < 500, `refused with ${response.statusCode}`);
  await server.app.portier.lastUsed.flush();

  const text = logs.text();
  t.match(text, /request refused/, 'refusals are logged (the capture works)');
  t.match(text, /token issued/, 'issuing is logged at debug');
  const secrets: Array<[string, string]> = [
    ['the secret', client.clientSecret],
    ['a wrong secret', wrongSecret],
    ['the secret in a query string', querySecret],
    ['the Authorization header', basic.slice('Basic '.length)],
    ['a wrong Authorization header', wrongBasic.slice('Basic '.length)],
    ...tokens.map((token, i): [string, string] => [`access token ${i + 1}`, token]),
    ...tokens.map((token, i): [string, string] => [`the signature of access token ${i + 1}`, token.split('.')[2] ?? token]),
  ];
  for (const [label, value] of secrets) t.notOk(text.includes(value), `the log does not contain ${label}`);

  // Neither does the audit trail of refused requests (written in the background).
  const { db } = server.database;
  const readDenials = () => db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  const rows = await eventually(readDenials, (found) => found.some((row) => JSON.stringify(row.details).includes('query-string-request')));
  t.ok(
    rows.some((row) => JSON.stringify(row.details).includes('query-string-request')),
    'the refusal with a query string is audited',
  );
  const audit = JSON.stringify(rows);
  for (const [label, value] of secrets) t.notOk(audit.includes(value), `the audit trail does not contain ${label}`);
});

t.test('last_used_at is recorded in batches', async (t) => {
  const server = await build(t);
  await addServices(server);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const unused = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const { db } = server.database;
  const lastUsed = async (clientId: string) => {
    const [row] = await db.select({ lastUsedAt: clients.lastUsedAt }).from(clients).where(eq(clients.clientId, clientId));
    return row?.lastUsedAt ?? null;
  };
  const getToken = () =>
    postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });

  t.equal((await getClient(db, client.clientId, Date.now()))?.last_used_at, null, 'null before first use');
  t.equal((await getToken()).statusCode, 200);
  t.equal((await getToken()).statusCode, 200);
  t.equal(await lastUsed(client.clientId), null, 'no write per token request');

  await server.app.portier.lastUsed.flush();
  const first = await lastUsed(client.clientId);
  t.ok(first instanceof Date, 'set after a flush');
  t.type((await getClient(db, client.clientId, Date.now()))?.last_used_at, 'string', 'shown in the client resource');
  t.equal(await lastUsed(unused.clientId), null, 'a client that got no token stays null');

  // A refused request is not a use.
  const refused = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(unused.clientId, 'wrong') });
  t.equal(refused.statusCode, 401);
  await server.app.portier.lastUsed.flush();
  t.equal(await lastUsed(unused.clientId), null, 'a refused request does not count as use');

  t.equal((await getToken()).statusCode, 200);
  await server.app.portier.lastUsed.flush();
  const second = await lastUsed(client.clientId);
  t.ok(second instanceof Date && first instanceof Date && second.getTime() >= first.getTime(), 'never moves backwards');

  // A flush with nothing pending writes nothing and changes nothing.
  await server.app.portier.lastUsed.flush();
  t.same(await lastUsed(client.clientId), second);
});
