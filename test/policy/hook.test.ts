import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { updateClient } from '../../src/clients/lifecycle.js';
import type { TokenHookConfig } from '../../src/config.js';
import type { auditEvents } from '../../src/db/schema.js';
import { expectOAuthError } from '../expect.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  CLI_ACTOR,
  CREDENTIAL_SETTINGS,
  captureLogs,
  eventually,
  postToken,
  type TestServer,
} from '../helpers.js';

// The issuance hook against a real HTTP server on the loopback, started here: what it is
// sent (and that its signature verifies with the secret), what its answers do to the
// token (claims, reserved names dropped, a denial), every way it can fail under both
// TOKEN_HOOK_ON_FAILURE settings, kept-alive connections, and the metrics.

const SECRET = 'hook-secret-0123456789-abcdefghijklmnop';
const ORDERS = { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read', 'orders:write'] };

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

/** A hook server on 127.0.0.1: what it received, how many connections it accepted, and its answer (changeable). */
async function hookServer(t: Test) {
  const received: Received[] = [];
  let connections = 0;
  let handler: Handler = (_request, _body, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: request.headers, body });
      handler(request, body, response);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    connections: () => connections,
    answer(next: Handler) {
      handler = next;
    },
    json(status: number, value: unknown) {
      handler = (_request, _body, response) =>
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    },
  };
}

async function setUp(t: Test, hook: Partial<TokenHookConfig> & { url: string }, logLevel = 'warn') {
  const logs = captureLogs(logLevel);
  const server = await build(t, {
    logger: logs.logger,
    config: { tokenHook: { secret: SECRET, timeoutMs: 2000, onFailure: 'deny', ...hook } },
  });
  await addService(server.database, ORDERS);
  const client = await addClient(server, {
    client_id: 'acme-sync',
    name: 'Acme sync',
    owner: 'ops@acme.example',
    roles: ['sync'],
    claims: { tenant: 'acme' },
    grants: [{ service: 'orders', scopes: ['orders:read', 'orders:write'] }],
  });
  const ask = (form: Record<string, string> = {}) =>
    postToken(
      server.app,
      { grant_type: 'client_credentials', scope: 'orders:read', ...form },
      { authorization: basicAuth(client.clientId, client.clientSecret) },
    );
  return { server, client, logs, ask };
}

/** Checks a Portier-Signature header the way a hook should: recompute the HMAC of "<t>.<body>" and compare in constant time. */
function verifySignature(header: string | string[] | undefined, body: string, secret: string): { ok: boolean; t: number } {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header));
  if (match === null) return { ok: false, t: 0 };
  const expected = createHmac('sha256', secret).update(`${match[1]}.${body}`).digest();
  return { ok: timingSafeEqual(expected, Buffer.from(match[2] ?? '', 'hex')), t: Number(match[1]) };
}

async function metricsText(server: TestServer): Promise<string> {
  return (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
}

t.test('the request: signed with the secret, and what it tells the hook', async (t) => {
  const hook = await hookServer(t);
  const { server, client, ask } = await setUp(t, { url: hook.url });
  const response = await ask();
  t.equal(response.statusCode, 200);
  t.equal(hook.received.length, 1, 'called once per token');
  const [call] = hook.received;
  if (call === undefined) return;
  t.equal(call.headers['content-type'], 'application/json');
  const signature = verifySignature(call.headers['portier-signature'], call.body, SECRET);
  t.ok(signature.ok, 'Portier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>"> verifies with TOKEN_HOOK_SECRET');
  t.ok(Math.abs(signature.t - server.clock.now() / 1000) < 60, 't is the time of the call');
  t.notOk(verifySignature(call.headers['portier-signature'], call.body, `${SECRET}x`).ok, 'and not with another secret');
  t.notOk(verifySignature(call.headers['portier-signature'], `${call.body} `, SECRET).ok, 'nor for another body');
  const sent = JSON.parse(call.body) as Record<string, unknown>;
  t.same(Object.keys(sent).sort(), ['claims', 'client', 'ip', 'scope', 'services']);
  t.same(sent.client, {
    client_id: 'acme-sync',
    name: 'Acme sync',
    owner: 'ops@acme.example',
    first_name: null,
    last_name: null,
    roles: ['sync'],
    claims: { tenant: 'acme' },
  });
  t.same(sent.services, [{ id: 'orders', audience: ORDERS.audience }]);
  t.equal(sent.scope, 'orders:read');
  t.equal(sent.ip, '127.0.0.1');
  const token = decodeJwt((response.json() as { access_token: string }).access_token);
  t.same(sent.claims, token, 'claims: exactly what the token carries when the hook adds nothing');
  t.equal(token.sub, client.uuid);
  t.notMatch(call.body, client.clientSecret, 'the client secret is not sent');
});

t.test('an answer with claims adds or overrides them; reserved names are dropped and logged', async (t) => {
  const hook = await hookServer(t);
  const { ask, logs } = await setUp(t, { url: hook.url });
  hook.json(200, { claims: { tenant: 'acme-eu', plan: 'gold', quota: { rps: 5 }, sub: 'forged', scope: 'admin:write', roles: ['root'] } });
  const response = await ask();
  t.equal(response.statusCode, 200);
  const token = decodeJwt((response.json() as { access_token: string }).access_token);
  t.match(token, { tenant: 'acme-eu', plan: 'gold', quota: { rps: 5 }, scope: 'orders:read', roles: ['sync'] });
  t.not(token.sub, 'forged', 'a reserved name from the hook is never applied');
  const line = logs.lines().find((entry) => entry.msg === 'the issuance hook answered with reserved claim names: dropped');
  t.same(line?.dropped, ['sub', 'scope', 'roles'], 'and logged');
  t.equal(line?.client_id, 'acme-sync');

  hook.json(200, {});
  t.equal(decodeJwt((await ask()).json().access_token).plan, undefined, '{} adds nothing');
  hook.json(201, { claims: { plan: 'silver' } });
  t.equal(decodeJwt((await ask()).json().access_token).plan, 'silver', 'any 2xx');
});

t.test('a denial: 403 access_denied with the description, in the audit trail', async (t) => {
  const hook = await hookServer(t);
  const { server, ask } = await setUp(t, { url: hook.url });
  hook.json(200, { deny: { error_description: 'contract expired for "acme"\n\u00e9' } });
  const denied = await ask();
  expectOAuthError(t, denied, 403, 'access_denied');
  t.equal(denied.json().error_description, 'contract expired for acme', 'only what RFC 6749 allows in an error_description');
  hook.json(200, { deny: {} });
  t.equal((await ask()).json().error_description, 'the token was denied by policy');
  // A denial is audited after the answer has gone (see audit/denials.ts).
  const deniedByHook = (events: Array<typeof auditEvents.$inferSelect>) =>
    events.some(
      (event) =>
        event.action === 'token.denied' &&
        event.clientId === 'acme-sync' &&
        (event.details as { reason?: string }).reason === 'denied by the issuance hook',
    );
  t.ok(deniedByHook(await eventually(() => server.database.db.query.auditEvents.findMany(), deniedByHook)), 'recorded as a token denial');
});

t.test('TOKEN_HOOK_ON_FAILURE=deny: every failure is a 503 temporarily_unavailable with Retry-After', async (t) => {
  const hook = await hookServer(t);
  const { server, ask, logs } = await setUp(t, { url: hook.url, timeoutMs: 100 });
  const failures: Array<[string, Handler]> = [
    ['a timeout', () => {}],
    ['a 500', (_request, _body, response) => response.writeHead(500).end('{"claims":{}}')],
    ['a 302', (_request, _body, response) => response.writeHead(302, { location: 'https://elsewhere.example/' }).end()],
    ['not JSON', (_request, _body, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>ok</html>')],
    ['a JSON array', (_request, _body, response) => response.writeHead(200).end('[]')],
    ['claims that are not an object', (_request, _body, response) => response.writeHead(200).end('{"claims":"x"}')],
    [
      'an answer over 16 KB',
      (_request, _body, response) => response.writeHead(200).end(JSON.stringify({ claims: { big: 'x'.repeat(17_000) } })),
    ],
    ['a connection cut', (request) => request.socket.destroy()],
  ];
  for (const [what, handler] of failures) {
    hook.answer(handler);
    const response = await ask();
    expectOAuthError(t, response, 503, 'temporarily_unavailable', what);
    t.equal(response.headers['retry-after'], '1', `${what}: Retry-After`);
  }
  hook.json(200, { claims: { plan: 'gold' } });
  t.equal((await ask()).statusCode, 200, 'back to normal once the hook answers');
  const metrics = await metricsText(server);
  for (const reason of ['timeout', 'status', 'not_json', 'invalid_answer', 'too_large', 'connection']) {
    t.match(metrics, new RegExp(`portier_token_hook_failures_total\\{reason="${reason}"\\} [1-9]`), `failures by reason: ${reason}`);
  }
  t.match(metrics, /portier_token_hook_duration_seconds_count\{outcome="failure"\} 8/, 'latency by outcome');
  t.match(metrics, /portier_token_hook_duration_seconds_count\{outcome="claims"\} 1/);
  t.ok(
    logs.lines().some((line) => String(line.msg).startsWith('answering 503: issuance hook failed')),
    'the cause is logged',
  );
  t.notMatch(logs.text(), SECRET, 'never the secret');
});

t.test('cache_for: an answer reused for the same client, services and scope while it lasts', async (t) => {
  const hook = await hookServer(t);
  const { server, client, ask } = await setUp(t, { url: hook.url });
  hook.json(200, { claims: { plan: 'gold' }, cache_for: 60 });
  const plans = async (form: Record<string, string> = {}) => decodeJwt((await ask(form)).json().access_token).plan;
  t.equal(await plans(), 'gold');
  hook.json(200, { claims: { plan: 'silver' } });
  t.equal(await plans(), 'gold', 'the same client, services and scope: the kept answer');
  t.equal(hook.received.length, 1, 'without a call');
  t.equal(await plans({ scope: 'orders:write' }), 'silver', 'another scope: a call');
  t.equal(hook.received.length, 2);
  server.clock.advance(61_000);
  t.equal(await plans(), 'silver', 'once cache_for has passed: a call');
  t.equal(await plans(), 'silver');
  t.equal(hook.received.length, 4, 'an answer without cache_for is not kept');

  hook.json(200, { claims: { plan: 'bronze' }, cache_for: 3600 });
  t.equal(await plans(), 'bronze');
  await updateClient(
    server.database.db,
    client.clientId,
    { roles: ['sync', 'audit'] },
    CLI_ACTOR,
    server.clock.now(),
    undefined,
    CREDENTIAL_SETTINGS,
  );
  hook.json(200, { claims: { plan: 'platinum' } });
  t.equal(
    await eventually(
      () => plans(),
      (plan) => plan === 'platinum',
    ),
    'platinum',
    'a changed client is told to the hook again (what it is told is part of the key)',
  );

  hook.json(200, { deny: { error_description: 'suspended' }, cache_for: 30 });
  expectOAuthError(t, await ask({ scope: 'orders:write' }), 403, 'access_denied');
  hook.json(200, {});
  expectOAuthError(t, await ask({ scope: 'orders:write' }), 403, 'access_denied', 'a denial is kept too');
  const calls = hook.received.length;
  hook.answer((_request, _body, response) => response.writeHead(500).end());
  server.clock.advance(31_000);
  expectOAuthError(t, await ask({ scope: 'orders:write' }), 503, 'temporarily_unavailable');
  expectOAuthError(t, await ask({ scope: 'orders:write' }), 503, 'temporarily_unavailable');
  t.equal(hook.received.length, calls + 2, 'a failure is never kept');
  const metrics = await metricsText(server);
  t.match(metrics, /portier_token_hook_reused_answers_total\{outcome="claims"\} [1-9]/, 'reused answers are counted, by outcome');
  t.match(metrics, /portier_token_hook_reused_answers_total\{outcome="deny"\} 1\b/);
});

t.test('cache_for that is not a whole number of seconds from 0 to 3600: a failed call, never kept', async (t) => {
  const hook = await hookServer(t);
  const { ask } = await setUp(t, { url: hook.url });
  for (const cacheFor of [-1, 3601, 1.5, '60', true, {}]) {
    hook.json(200, { claims: { plan: 'gold' }, cache_for: cacheFor });
    expectOAuthError(t, await ask(), 503, 'temporarily_unavailable', `cache_for ${JSON.stringify(cacheFor)}`);
  }
  hook.json(200, { claims: { plan: 'gold' }, cache_for: 0 });
  t.equal((await ask()).statusCode, 200, '0: used once');
  hook.json(200, { claims: { plan: 'silver' } });
  t.equal(decodeJwt((await ask()).json().access_token).plan, 'silver', 'and not kept');
});

t.test('claims no token can carry: a hook failure under either setting, never a 500', async (t) => {
  const hook = await hookServer(t);
  // 7,000 levels in about 14 KB (under the answer's size cap): enough to overflow JSON.stringify.
  const deep = `{"claims":{"deep":${'['.repeat(7_000)}${']'.repeat(7_000)}}}`;
  const hostile: Array<[string, string]> = [
    ['claims nested 7,000 deep', deep],
    ['claims nested one level too deep', `{"claims":{"deep":${'['.repeat(33)}${']'.repeat(33)}}}`],
    ['a NUL in a value', '{"claims":{"tenant":"a\\u0000b"}}'],
    ['a NUL in a name', '{"claims":{"a\\u0000b":"x"}}'],
    ['a lone surrogate', '{"claims":{"tenant":"\\ud800"}}'],
  ];
  for (const onFailure of ['deny', 'allow'] as const) {
    const { server, ask } = await setUp(t, { url: hook.url, onFailure });
    for (const [what, answer] of hostile) {
      hook.answer((_request, _body, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(answer));
      const response = await ask();
      if (onFailure === 'deny') expectOAuthError(t, response, 503, 'temporarily_unavailable', `${what} (deny)`);
      else {
        t.equal(response.statusCode, 200, `${what} (allow): issued`);
        t.equal(decodeJwt(response.json().access_token).tenant, 'acme', `${what} (allow): without the hook's claims`);
      }
    }
    t.match(
      await metricsText(server),
      new RegExp(`portier_token_hook_failures_total\\{reason="invalid_answer"\\} ${hostile.length}`),
      `${onFailure}: each counted as a failure`,
    );
  }
  hook.answer((_request, _body, response) => response.writeHead(200).end(`{"claims":{"deep":${'['.repeat(32)}${']'.repeat(32)}}}`));
  const { ask } = await setUp(t, { url: hook.url });
  t.equal((await ask()).statusCode, 200, 'claims nested to the limit are fine');
});

t.test('a flood of denials is logged once a second with a count, not once per request', async (t) => {
  const hook = await hookServer(t);
  const { ask, logs } = await setUp(t, { url: hook.url }, 'info');
  hook.json(200, { deny: { error_description: 'not today' } });
  const answers = await Promise.all(Array.from({ length: 20 }, () => ask()));
  t.ok(
    answers.every((response) => response.statusCode === 403),
    '20 denials',
  );
  const closing = await eventually(
    async () => logs.lines().filter((line) => line.msg === 'request refused (repeated)'),
    (lines) => lines.length > 0,
    3000,
  );
  const first = logs.lines().filter((line) => line.msg === 'request refused');
  t.ok(first.length <= 2, `${first.length} line(s) as they happen`);
  const counted = first.length + closing.reduce((sum, line) => sum + Number(line.repeated), 0);
  t.equal(counted, 20, 'and every denial counted');
  t.match(
    closing[0],
    { client_id: 'acme-sync', error: 'access_denied', reason: 'denied by the issuance hook' },
    'the closing line says what repeated',
  );
});

t.test('an unreachable hook is a failure like any other', async (t) => {
  const hook = await hookServer(t);
  const closed = hook.url.replace(/:\d+\//, ':1/');
  const { ask } = await setUp(t, { url: closed });
  expectOAuthError(t, await ask(), 503, 'temporarily_unavailable');
});

t.test('TOKEN_HOOK_ON_FAILURE=allow: the token without the hook claims, and a warning at most once a second', async (t) => {
  const hook = await hookServer(t);
  const { ask, logs } = await setUp(t, { url: hook.url, timeoutMs: 100, onFailure: 'allow' });
  hook.answer((_request, _body, response) => response.writeHead(503).end());
  for (let i = 0; i < 5; i += 1) {
    const response = await ask();
    t.equal(response.statusCode, 200, 'issued');
    const token = decodeJwt(response.json().access_token);
    t.equal(token.tenant, 'acme', "the client's own claims are there");
  }
  const warnings = logs
    .lines()
    .filter((line) => line.msg === 'the issuance hook failed: token issued without its claims (TOKEN_HOOK_ON_FAILURE=allow)');
  t.equal(warnings.length, 1, 'one warning for five failures in a second');
  t.equal(warnings[0]?.reason, 'status');
  hook.json(200, { deny: { error_description: 'no' } });
  t.equal((await ask()).statusCode, 403, 'a denial is still a denial');
});

t.test('connections to the hook are kept alive', async (t) => {
  const hook = await hookServer(t);
  const { ask } = await setUp(t, { url: hook.url });
  hook.json(200, { claims: { plan: 'gold' } });
  for (let i = 0; i < 10; i += 1) t.equal((await ask()).statusCode, 200);
  t.equal(hook.received.length, 10);
  t.equal(hook.connections(), 1, 'ten calls, one connection');
  t.equal(hook.received[9]?.headers.connection, 'keep-alive');
});

t.test('a kept-alive connection the hook closes just as it is reused: the call is made once more, on a new one', async (t) => {
  const hook = await hookServer(t);
  const { ask } = await setUp(t, { url: hook.url });
  const served = new WeakMap<object, number>();
  hook.answer((request, _body, response) => {
    const count = (served.get(request.socket) ?? 0) + 1;
    served.set(request.socket, count);
    // The second request on a connection finds it closing, as with a server's keep-alive timeout.
    if (count === 2) request.socket.destroy();
    else response.writeHead(200, { 'content-type': 'application/json' }).end('{"claims":{"plan":"gold"}}');
  });
  t.equal((await ask()).statusCode, 200);
  const second = await ask();
  t.equal(second.statusCode, 200, 'not a 503');
  t.equal(decodeJwt(second.json().access_token).plan, 'gold');
  t.equal(hook.received.length, 3, 'the cut call and its retry');
  t.equal(hook.connections(), 2, 'the retry on a new connection');
});
