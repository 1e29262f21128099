import { eq, sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { deleteClient, setClientEnabled } from '../../src/clients/lifecycle.js';
import { generateOpaqueSecret } from '../../src/clients/secrets.js';
import { auditEvents, clients } from '../../src/db/schema.js';
import { expectOAuthError } from '../expect.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  CLI_ACTOR,
  captureLogs,
  eventually,
  openBudgets,
  postToken,
  type TestServer,
} from '../helpers.js';

// Malformed token requests and failed client authentication. Every refusal is a 4xx with an
// RFC 6749 §5.2 JSON body and Cache-Control: no-store, and the server keeps serving after it.

type Response = Awaited<ReturnType<typeof postToken>>;

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const FORM = 'application/x-www-form-urlencoded';

/** A request to /oauth/token exactly as given: body, headers and method. */
function injectRaw(
  server: TestServer,
  payload: string | undefined,
  headers: Record<string, string> = {},
  method: 'POST' | 'GET' | 'PUT' | 'DELETE' = 'POST',
) {
  return server.app.inject({ method, url: '/oauth/token', headers, ...(payload === undefined ? {} : { payload }) });
}

t.test('malformed requests', async (t) => {
  const server = await build(t);
  await addService(server.database, EVENTS);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const basic = basicAuth(client.clientId, client.clientSecret);
  const good = 'grant_type=client_credentials';

  /** After every bad request, a good one still gets a token. */
  async function stillServing(t: Test): Promise<void> {
    const response = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basic });
    t.equal(response.statusCode, 200, 'a good request afterwards still gets a token');
  }

  t.test('malformed or foreign Authorization headers are invalid_request', async (t) => {
    const noColon = `Basic ${Buffer.from(`${client.clientId}${client.clientSecret}`).toString('base64')}`;
    const headers: Array<[string, string]> = [
      ['Basic without credentials', 'Basic'],
      ['Basic with an empty value', 'Basic '],
      ['Basic with characters outside base64', 'Basic !!!'],
      ['base64 without a colon', noColon],
      ['Bearer scheme', 'Bearer x'],
    ];
    for (const [label, authorization] of headers) {
      const response = await injectRaw(server, good, { 'content-type': FORM, authorization });
      expectOAuthError(t, response, 400, 'invalid_request', label);
    }
    await stillServing(t);
  });

  t.test('percent-escapes that do not decode', async (t) => {
    // In the Basic header, id and secret are form-urlencoded (RFC 6749 §2.3.1).
    for (const badEscape of ['%zz', '%E0%A4%A']) {
      const asId = `Basic ${Buffer.from(`${badEscape}:${client.clientSecret}`).toString('base64')}`;
      const asSecret = `Basic ${Buffer.from(`${client.clientId}:${badEscape}`).toString('base64')}`;
      expectOAuthError(t, await injectRaw(server, good, { 'content-type': FORM, authorization: asId }), 400, 'invalid_request');
      expectOAuthError(t, await injectRaw(server, good, { 'content-type': FORM, authorization: asSecret }), 400, 'invalid_request');
      // In the body, the form parser keeps an undecodable escape as it is (as WHATWG
      // URLSearchParams does), so the value is simply wrong; rejecting it as malformed
      // (invalid_request) would do as well.
      const inBody: Array<[string, string, Record<string, string>, number, string]> = [
        ['grant_type', `grant_type=${badEscape}`, {}, 400, 'unsupported_grant_type'],
        ['client_id', `${good}&client_id=${badEscape}&client_secret=${client.clientSecret}`, {}, 400, 'invalid_client'],
        ['client_secret', `${good}&client_id=${client.clientId}&client_secret=${badEscape}`, {}, 400, 'invalid_client'],
        ['scope', `${good}&scope=${badEscape}`, { authorization: basic }, 400, 'invalid_scope'],
        ['resource', `${good}&resource=https://events.example/${badEscape}`, { authorization: basic }, 400, 'invalid_target'],
      ];
      for (const [name, payload, headers, status, error] of inBody) {
        const response = await injectRaw(server, payload, { 'content-type': FORM, ...headers });
        const malformed = response.statusCode === 400 && response.json().error === 'invalid_request';
        if (malformed) expectOAuthError(t, response, 400, 'invalid_request', `${name}=${badEscape}`);
        else expectOAuthError(t, response, status, error, `${name}=${badEscape}`);
      }
    }
    await stillServing(t);
  });

  t.test('bodies that are not application/x-www-form-urlencoded are invalid_request', async (t) => {
    const json = await injectRaw(server, JSON.stringify({ grant_type: 'client_credentials' }), {
      'content-type': 'application/json',
      authorization: basic,
    });
    expectOAuthError(t, json, 400, 'invalid_request');
    const multipart = await injectRaw(
      server,
      '--xyz\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--xyz--\r\n',
      { 'content-type': 'multipart/form-data; boundary=xyz', authorization: basic },
    );
    expectOAuthError(t, multipart, 400, 'invalid_request');
    const text = await injectRaw(server, good, { 'content-type': 'text/plain', authorization: basic });
    expectOAuthError(t, text, 400, 'invalid_request');
    const noContentType = await injectRaw(server, good, { authorization: basic });
    expectOAuthError(t, noContentType, 400, 'invalid_request');
    const noBody = await injectRaw(server, undefined, { authorization: basic });
    expectOAuthError(t, noBody, 400, 'invalid_request');
    await stillServing(t);
  });

  t.test('a body over 64 KiB is 413 with an RFC 6749 body', async (t) => {
    const big = `${good}&padding=${'a'.repeat(65 * 1024)}`;
    expectOAuthError(t, await injectRaw(server, big, { 'content-type': FORM, authorization: basic }), 413, 'invalid_request');
    // Just under the limit is parsed as usual.
    const justUnder = `${good}&padding=${'a'.repeat(60 * 1024)}`;
    t.equal((await injectRaw(server, justUnder, { 'content-type': FORM, authorization: basic })).statusCode, 200);
    await stillServing(t);
  });

  t.test('GET, PUT and DELETE on /oauth/token are 405', async (t) => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const response = await injectRaw(server, method === 'GET' ? undefined : good, { 'content-type': FORM, authorization: basic }, method);
      expectOAuthError(t, response, 405, 'invalid_request');
      t.equal(response.headers.allow, 'POST', `${method}: Allow: POST`);
    }
    await stillServing(t);
  });

  t.test('other methods and unknown paths under /oauth: RFC 6749 errors too', async (t) => {
    // These reached Fastify's own 404 ({message, error, statusCode}) or a problem document.
    for (const url of ['/oauth/token', '/oauth/introspect', '/oauth/revoke/']) {
      for (const method of ['OPTIONS', 'TRACE', 'PATCH', 'PROPFIND'] as const) {
        const response = await server.app.inject({ method, url, headers: { authorization: basic } });
        expectOAuthError(t, response, 405, 'invalid_request', `${method} ${url}`);
        t.equal(response.headers.allow, 'POST', `${method} ${url}: Allow: POST`);
      }
      const query = await server.app.inject({ method: 'QUERY', url, headers: { 'content-type': FORM }, payload: good });
      expectOAuthError(t, query, 405, 'invalid_request', `QUERY ${url}`);
    }
    // Paths the router cannot decode.
    for (const url of ['/oauth/token%', '/oauth/%zz', '/oauth/revoke%ED%A0%80']) {
      expectOAuthError(
        t,
        await server.app.inject({ method: 'POST', url, headers: { 'content-type': FORM }, payload: good }),
        400,
        'invalid_request',
        `POST ${url}`,
      );
    }
    // QUERY must have a content type (RFC 10008): Fastify refuses it before any route.
    expectOAuthError(
      t,
      await server.app.inject({ method: 'QUERY', url: '/oauth/token' }),
      400,
      'invalid_request',
      'QUERY without a content type',
    );
    for (const url of ['/oauth', '/oauth/', '/oauth/tokenx', '/oauth//token', '/oauth/token/x', '/oauth/authorize?response_type=code']) {
      for (const method of ['GET', 'POST', 'PROPFIND'] as const) {
        const response = await server.app.inject({
          method,
          url,
          headers: { 'content-type': FORM },
          payload: method === 'GET' ? undefined : good,
        });
        expectOAuthError(t, response, 404, 'invalid_request', `${method} ${url}`);
      }
      const json = await server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{' });
      expectOAuthError(t, json, 400, 'invalid_request', `POST ${url} with a JSON body`);
    }
    await stillServing(t);
  });

  t.test('grant_type', async (t) => {
    expectOAuthError(t, await postToken(server.app, {}, { authorization: basic }), 400, 'invalid_request');
    expectOAuthError(t, await postToken(server.app, { grant_type: '' }, { authorization: basic }), 400, 'invalid_request');
    for (const grantType of ['authorization_code', 'password', 'refresh_token', 'garbage']) {
      const response = await postToken(server.app, { grant_type: grantType }, { authorization: basic });
      expectOAuthError(t, response, 400, 'unsupported_grant_type');
    }
    await stillServing(t);
  });

  t.test('a repeated parameter is invalid_request', async (t) => {
    const twice = (name: string, value: string) =>
      postToken(
        server.app,
        { grant_type: 'client_credentials', [name]: [value, value] },
        name === 'client_id' ? {} : { authorization: basic },
      );
    expectOAuthError(t, await twice('grant_type', 'client_credentials'), 400, 'invalid_request');
    expectOAuthError(t, await twice('scope', 'events:read'), 400, 'invalid_request');
    const clientIdTwice = await postToken(server.app, {
      grant_type: 'client_credentials',
      client_id: [client.clientId, client.clientId],
      client_secret: client.clientSecret,
    });
    expectOAuthError(t, clientIdTwice, 400, 'invalid_request');
    const secretTwice = await postToken(server.app, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_secret: [client.clientSecret, client.clientSecret],
    });
    expectOAuthError(t, secretTwice, 400, 'invalid_request');
    await stillServing(t);
  });

  t.test('client authentication methods', async (t) => {
    const both = await postToken(
      server.app,
      { grant_type: 'client_credentials', client_secret: client.clientSecret },
      { authorization: basic },
    );
    expectOAuthError(t, both, 400, 'invalid_request');
    const bothWithId = await postToken(
      server.app,
      { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret },
      { authorization: basic },
    );
    expectOAuthError(t, bothWithId, 400, 'invalid_request');
    const otherId = await postToken(server.app, { grant_type: 'client_credentials', client_id: 'someone-else' }, { authorization: basic });
    expectOAuthError(t, otherId, 400, 'invalid_request');
    // The same client_id in the body as in the Basic header is fine.
    const sameId = await postToken(server.app, { grant_type: 'client_credentials', client_id: client.clientId }, { authorization: basic });
    t.equal(sameId.statusCode, 200, 'Basic with the same client_id in the body is accepted');

    const none = await postToken(server.app, { grant_type: 'client_credentials' });
    expectOAuthError(t, none, 400, 'invalid_client');
    t.notOk(none.headers['www-authenticate'], 'no authentication at all: a 400 without a challenge (no Basic was tried)');

    const assertion = await postToken(server.app, {
      grant_type: 'client_credentials',
      client_id: client.clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    });
    // An assertion for a client that authenticates with a secret (and an unsigned one at that).
    expectOAuthError(t, assertion, 400, 'invalid_client');
    await stillServing(t);
  });
});

/** A log line's or audit row's naming of the client: a client_id, or for FINGERPRINT a fingerprint and no client_id. */
const FINGERPRINT = 'fingerprint';
function namesClient(expected: string | null, clientId: unknown, presented: unknown): boolean {
  if (expected === null) return true;
  if (expected !== FINGERPRINT) return clientId === expected;
  const fingerprint = (presented as { fingerprint?: unknown } | undefined)?.fingerprint;
  return (clientId === undefined || clientId === null) && typeof fingerprint === 'string' && /^[0-9a-f]{12}$/.test(fingerprint);
}

t.test(
  'every failed client authentication is the same invalid_client (401 over Basic, 400 in the body); the reason goes to log and audit only',
  async (t) => {
    const logs = captureLogs('info');
    // Many refusals from one address: budgets wide open, so that each reaches its own check.
    const server = await build(t, { logger: logs.logger, config: { protection: openBudgets() } });
    const { db } = server.database;
    await addService(server.database, EVENTS);
    const grants = [{ service: 'events', scopes: ['events:read'] }];
    const client = await addClient(server, { grants });
    const other = await addClient(server, { grants });
    const disabled = await addClient(server, { grants });
    const expired = await addClient(server, { grants });
    const deleted = await addClient(server, { grants });
    const { publicKey } = await generateKeyPair('ES256');
    const keyClient = await addClient(server, { grants, auth_method: 'private_key_jwt', jwks: { keys: [await exportJWK(publicKey)] } });

    // Each was fine before it was disabled, expired or deleted.
    for (const c of [disabled, expired, deleted]) {
      const before = await postToken(
        server.app,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(c.clientId, c.clientSecret) },
      );
      t.equal(before.statusCode, 200, `${c.clientId} works before`);
    }
    await setClientEnabled(db, disabled.clientId, false, CLI_ACTOR, Date.now());
    // create refuses a past expires_at, so the clock is moved past it in the database.
    await db.update(clients).set({ expiresAt: sql`now() - interval '1 minute'` }).where(eq(clients.clientId, expired.clientId));
    await deleteClient(db, deleted.clientId, CLI_ACTOR);
    server.app.portier.generation.changed();

    const long = 'a'.repeat(2000);
    // `audited`: the client_id logged and audited; FINGERPRINT where no client has the
    // presented client_id (it could be anything, a misplaced secret too), null: not checked.
    const cases: Array<{ label: string; clientId: string; secret: string; reason: RegExp; audited: string | null }> = [
      { label: 'unknown client', clientId: 'no-such-client', secret: client.clientSecret, reason: /unknown client/, audited: FINGERPRINT },
      {
        label: 'wrong secret',
        clientId: client.clientId,
        // Well-formed (a secret of the shape made before self-identifying ones), just wrong.
        secret: generateOpaqueSecret(),
        reason: /wrong secret/,
        audited: client.clientId,
      },
      {
        label: 'mistyped secret',
        clientId: client.clientId,
        // Its checksum fails: refused before the client is looked up, so it names none.
        secret: `${client.clientSecret}x`,
        reason: /wrong checksum|malformed self-identifying secret/,
        audited: FINGERPRINT,
      },
      {
        label: 'disabled client',
        clientId: disabled.clientId,
        secret: disabled.clientSecret,
        reason: /disabled/,
        audited: disabled.clientId,
      },
      { label: 'expired client', clientId: expired.clientId, secret: expired.clientSecret, reason: /expired/, audited: expired.clientId },
      { label: 'deleted client', clientId: deleted.clientId, secret: deleted.clientSecret, reason: /unknown client/, audited: FINGERPRINT },
      {
        label: "another client's secret",
        clientId: client.clientId,
        secret: other.clientSecret,
        reason: /a credential this client does not have/,
        audited: client.clientId,
      },
      {
        label: 'a private_key_jwt client presenting a secret',
        clientId: keyClient.clientId,
        secret: client.clientSecret,
        reason: /private_key_jwt/,
        audited: keyClient.clientId,
      },
      { label: 'over-long client_id', clientId: long, secret: client.clientSecret, reason: /not a well-formed client_id/, audited: null },
      {
        label: 'client_id with a NUL byte',
        clientId: `${client.clientId}\u0000`,
        secret: client.clientSecret,
        reason: /not a well-formed client_id/,
        audited: null,
      },
      {
        label: 'client_id outside the client_id rule',
        clientId: client.clientId.toUpperCase(),
        secret: client.clientSecret,
        reason: /not a well-formed client_id/,
        audited: null,
      },
      { label: 'over-long secret', clientId: client.clientId, secret: long, reason: /too long/, audited: null },
      { label: 'empty secret', clientId: client.clientId, secret: '', reason: /empty/, audited: null },
    ];

    const basicResponses: Response[] = [];
    const postResponses: Response[] = [];
    for (const c of cases) {
      const viaBasic = await postToken(
        server.app,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth(c.clientId, c.secret) },
      );
      const viaPost = await postToken(server.app, { grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.secret });
      t.test(c.label, async (t) => {
        expectOAuthError(t, viaBasic, 401, 'invalid_client');
        t.match(
          viaBasic.headers['www-authenticate'],
          /^Basic realm="[^"]*", error="invalid_client"/,
          'Basic was tried: the Basic challenge, with the error',
        );
        expectOAuthError(t, viaPost, 400, 'invalid_client');
        t.notOk(viaPost.headers['www-authenticate'], 'client_secret_post: a 400 and the JSON body alone');
        for (const response of [viaBasic, viaPost]) {
          t.notMatch(response.body, /unknown|wrong|disabled|expired|deleted|long|empty|secret of/i, 'the response does not say why');
        }
      });
      basicResponses.push(viaBasic);
      postResponses.push(viaPost);
    }
    // A client_id without any secret is the same refusal too.
    postResponses.push(await postToken(server.app, { grant_type: 'client_credentials', client_id: client.clientId }));

    const shape = (response: Response) => ({
      status: response.statusCode,
      body: response.body,
      wwwAuthenticate: response.headers['www-authenticate'],
      cacheControl: response.headers['cache-control'],
    });
    const [firstBasic] = basicResponses;
    const [firstPost] = postResponses;
    if (firstBasic === undefined || firstPost === undefined) throw new Error('no responses');
    t.test('all answers are identical', async (t) => {
      for (const response of basicResponses) t.same(shape(response), shape(firstBasic));
      for (const response of postResponses) t.same(shape(response), shape(firstPost));
      t.equal(firstBasic.body, firstPost.body, 'Basic and post refusals have the same body');
    });

    t.test('the real reason is in the log', async (t) => {
      const refusals = logs.lines().filter((line) => /refused/.test(String(line.msg)));
      for (const c of cases) {
        const found = refusals.some(
          (line) => c.reason.test(String(line.reason)) && namesClient(c.audited, line.client_id, line.presented_client_id),
        );
        t.ok(found, `${c.label}: logged with its reason`);
      }
    });

    t.test('the real reason is in the audit trail (token.denied)', async (t) => {
      const readDenials = () => db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
      const hasAll = (rows: Array<typeof auditEvents.$inferSelect>) => cases.every((c) => rows.some((row) => matches(row, c)));
      const matches = (row: typeof auditEvents.$inferSelect, c: (typeof cases)[number]) => {
        const details = row.details as { error?: string; reason?: string; presented_client_id?: unknown };
        return (
          details.error === 'invalid_client' &&
          c.reason.test(String(details.reason)) &&
          namesClient(c.audited, row.clientId, details.presented_client_id)
        );
      };
      // The denial is written in the background, after the answer.
      const rows = await eventually(readDenials, hasAll);
      for (const c of cases)
        t.ok(
          rows.some((row) => matches(row, c)),
          `${c.label}: audited with its reason`,
        );
      const audit = JSON.stringify(rows);
      for (const secret of [client.clientSecret, other.clientSecret, disabled.clientSecret, expired.clientSecret, deleted.clientSecret]) {
        t.notOk(audit.includes(secret), 'the audit trail never holds a secret');
      }
      t.notOk(audit.includes('no-such-client'), 'nor a client_id that names no client');
    });

    const after = await postToken(
      server.app,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(client.clientId, client.clientSecret) },
    );
    t.equal(after.statusCode, 200, 'the server still serves the good client');
  },
);

t.test('over-long input is never copied whole into the log or the audit trail', async (t) => {
  const logs = captureLogs('trace');
  const server = await build(t, { logger: logs.logger });
  await addService(server.database, EVENTS);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  const huge = (c: string) => c.repeat(60_000);
  const requests: Array<[string, Record<string, string>, Record<string, string>]> = [
    ['client_id without a secret', { client_id: huge('i') }, {}],
    ['client_id with a secret', { client_id: huge('j'), client_secret: client.clientSecret }, {}],
    ['secret', { client_id: client.clientId, client_secret: huge('k') }, {}],
    ['Basic client_id', {}, { authorization: basicAuth(huge('l'), client.clientSecret) }],
    ['grant_type', { grant_type: huge('m') }, { authorization: basicAuth(client.clientId, client.clientSecret) }],
    ['scope', { scope: huge('n') }, { authorization: basicAuth(client.clientId, client.clientSecret) }],
    ['resource', { resource: `https://${huge('o')}.example` }, { authorization: basicAuth(client.clientId, client.clientSecret) }],
    ['audience', { audience: `https://${huge('p')}.example` }, { authorization: basicAuth(client.clientId, client.clientSecret) }],
  ];
  for (const [label, form, headers] of requests) {
    const response = await postToken(server.app, { grant_type: 'client_credentials', ...form }, headers);
    t.ok(response.statusCode >= 400 && response.statusCode < 500, `${label}: refused with ${response.statusCode}`);
    t.ok(response.body.length < 1024, `${label}: the answer does not echo it`);
  }
  const { db } = server.database;
  const readDenials = () => db.select().from(auditEvents).where(eq(auditEvents.action, 'token.denied'));
  // Seven rows: one per reason; the two malformed client_ids (body and Basic) name no
  // client, come from one address for one reason, and share a row (see DenialRecorder).
  const rows = await eventually(readDenials, (found) => found.length >= 7);
  t.equal(rows.length, 7, 'the refusals are audited');
  const longest = (values: string[]) => Math.max(0, ...values.map((value) => value.length));
  t.ok(longest(logs.text().split('\n')) < 4096, 'no log line carries the whole input');
  t.ok(longest(rows.map((row) => JSON.stringify(row))) < 4096, 'no audit row carries the whole input');
});
