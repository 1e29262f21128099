import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { basicAuth } from '../helpers.js';
import { ancestorsIn, decodeProtobuf, spansOf, startPortierOnOwnDatabase, startReceiver, text } from './harness.js';

/**
 * The default protocol, OTLP/HTTP protobuf, decoded with the OpenTelemetry protobuf
 * definitions as a Collector would: a token request through the quota and the issuance hook
 * is one trace, the caller's, whose spans have the right names, parents and attributes; the
 * hook server is called inside that trace (traceparent); nothing exported holds a secret.
 */

/** An issuance hook that allows every token and keeps the traceparent of each call. */
async function startHook(t: Test): Promise<{ url: string; traceparents: Array<string | undefined> }> {
  const traceparents: Array<string | undefined> = [];
  const server = createServer((request, response) => {
    const header = request.headers.traceparent;
    traceparents.push(Array.isArray(header) ? header.join(',') : header);
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{"cache_for":0}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, traceparents };
}

t.test('protobuf: the quota and the hook are spans of the caller’s trace, the hook gets its traceparent, no secret', async (t) => {
  const receiver = await startReceiver(t);
  const hook = await startHook(t);
  const hookSecret = randomBytes(32).toString('base64url');
  const portier = await startPortierOnOwnDatabase(t, {
    TOKEN_HOOK_URL: hook.url,
    TOKEN_HOOK_SECRET: hookSecret,
    TOKEN_QUOTA_PER_HOUR: '1000',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  });
  const { origin, adminSecret, keyEncryptionKey } = portier;
  const traceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  const basic = basicAuth('ops-admin', adminSecret);
  const issued = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic, traceparent: `00-${traceId}-${callerSpanId}-01` },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${origin}/admin`, scope: 'admin:read' }).toString(),
  });
  t.equal(issued.status, 200, 'token issued');
  const accessToken = String(((await issued.json()) as { access_token: string }).access_token);
  portier.child.kill('SIGTERM');
  t.equal(await portier.exited, 0, 'stopped cleanly');

  t.ok(receiver.received.length > 0, 'spans arrived');
  t.ok(
    receiver.received.every((body) => body.type === 'application/x-protobuf'),
    'as protobuf, the default',
  );
  const exports = receiver.received.map((body) => decodeProtobuf(body.body));
  const resource = exports[0]?.resourceSpans[0]?.resource.attributes ?? [];
  t.equal(resource.find((attribute) => attribute.key === 'service.name')?.value.stringValue, 'portier', 'service.name portier by default');
  const spans = spansOf(exports);
  const ancestors = ancestorsIn(spans);
  const ours = spans.filter((span) => span.traceId === traceId);
  const server = ours.find((span) => span.parentSpanId === callerSpanId);
  t.ok(server, 'the server span continues the caller’s trace');
  t.equal(server && text(server, 'http.request.method'), 'POST', 'with the stable http.request.method');
  const named = (name: string) => ours.find((span) => span.name === name);
  const steps = [
    'portier.client_authentication',
    'portier.argon2.verify',
    'portier.quota.admit',
    'portier.issuance_hook',
    'portier.token.sign',
  ];
  for (const name of steps) {
    const span = named(name);
    t.ok(span, `${name}: a span in the caller's trace`);
    if (span !== undefined && server !== undefined) t.ok(ancestors(span).includes(server), `${name}: under the server span`);
  }
  const quota = named('portier.quota.admit');
  t.equal(quota && text(quota, 'portier.quota.admitted'), true, 'the quota admitted the request');
  const hookSpan = named('portier.issuance_hook');
  t.equal(hookSpan && text(hookSpan, 'portier.issuance_hook.outcome'), 'claims', 'the hook answered with claims (none)');
  const authentication = named('portier.client_authentication');
  t.equal(authentication && text(authentication, 'portier.client_id'), 'ops-admin', 'authentication names the client');

  // The hook call carried the trace: its traceparent names this trace and a span under the hook span.
  t.equal(hook.traceparents.length, 1, 'the hook was called once');
  const [, sentTrace, sentParent, flags] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(hook.traceparents[0] ?? '') ?? [];
  t.equal(sentTrace, traceId, 'the hook got a traceparent of the caller’s trace');
  t.equal(flags, '01', 'sampled');
  const outgoing = ours.find((span) => span.spanId === sentParent);
  t.ok(outgoing, 'its parent id is an exported span (the outgoing HTTP call)');
  if (outgoing !== undefined && hookSpan !== undefined) t.ok(ancestors(outgoing).includes(hookSpan), 'under portier.issuance_hook');

  const bytes = Buffer.concat(receiver.received.map((body) => body.body));
  const secrets: Array<[string, string]> = [
    ['the secret', adminSecret],
    ['the Authorization header', basic.slice('Basic '.length)],
    ['the access token', accessToken],
    ["the access token's signature", accessToken.split('.')[2] ?? accessToken],
    ['TOKEN_HOOK_SECRET', hookSecret],
    ['KEY_ENCRYPTION_KEY', keyEncryptionKey],
  ];
  for (const [what, secret] of secrets) {
    const holders = spans.flatMap((span) =>
      span.attributes
        .filter((attribute) => JSON.stringify(attribute.value).includes(secret))
        .map((attribute) => `${span.name}: ${attribute.key}`),
    );
    t.same(holders, [], `no decoded attribute holds ${what}`);
    t.notOk(bytes.includes(Buffer.from(secret, 'utf8')), `no exported byte holds ${what}`);
  }
});
