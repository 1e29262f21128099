import { randomBytes } from 'node:crypto';
import t from 'tap';
import { TracingSettingError, tracingSettings } from '../../src/tracing/settings.js';
import { basicAuth } from '../helpers.js';
import { type OtlpSpan, startPortierOnOwnDatabase, startReceiver, text } from './harness.js';

/**
 * OpenTelemetry tracing, end to end: the real process (`node --import tsx src/main.ts`) with
 * the standard OTEL_* variables, exporting OTLP/HTTP JSON to a receiver this test runs. The
 * spans of a token request (with a caller's traceparent) and of a refusal are checked for
 * names, parents and attributes, and all that arrived for the absence of every secret.
 */

const ON_POSTGRES = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

t.test('tracing settings: off unless an endpoint is named; gRPC and other exporters refused by name', async (t) => {
  t.equal(tracingSettings({}), undefined, 'no endpoint: off');
  t.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }),
    undefined,
    'OTEL_SDK_DISABLED',
  );
  t.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }),
    undefined,
    'exporter none',
  );
  t.same(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), { protocol: 'http/protobuf' }, 'protobuf by default');
  t.same(
    tracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    { protocol: 'http/json' },
    'the traces-only endpoint, JSON',
  );
  t.throws(
    () => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    TracingSettingError,
  );
  t.throws(
    () => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'zipkin' }),
    TracingSettingError,
  );
});

t.test('tracing off: the process loads no OpenTelemetry module', async (t) => {
  const portier = await startPortierOnOwnDatabase(t, {}, { recordLoads: true });
  const { origin } = portier;
  t.equal((await fetch(`${origin}/healthz`)).status, 200, 'serving');
  portier.child.kill('SIGTERM');
  t.equal(await portier.exited, 0, 'stopped cleanly');
  const loaded = portier.loaded();
  t.ok(
    loaded.some((url) => url.includes('/node_modules/fastify/')),
    'the record of loaded modules works',
  );
  // The API alone is loaded (prom-client's process metrics require it, for exemplars): a
  // facade that does nothing without an SDK. The SDK, the instrumentations, the exporters and
  // the loader hooks are not.
  t.same(
    loaded.filter(
      (url) =>
        /\/node_modules\/(?:@opentelemetry\/|@fastify\/otel\/|import-in-the-middle\/|require-in-the-middle\/)/.test(url) &&
        !url.includes('/node_modules/@opentelemetry/api/'),
    ),
    [],
    'none of the OpenTelemetry SDK, its instrumentations, exporters or loader hooks',
  );
  t.notOk(
    loaded.some((url) => url.includes('/src/tracing/start.')),
    'nor tracing/start.ts',
  );
});

t.test('a token request is traced: the caller’s trace continued, its steps as child spans, no secret anywhere', async (t) => {
  const receiver = await startReceiver(t);
  const portier = await startPortierOnOwnDatabase(t, {
    LOG_LEVEL: 'debug',
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'portier-under-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  });
  const { origin, adminSecret, keyEncryptionKey } = portier;

  // The caller's trace: W3C traceparent, sampled.
  const callerTraceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  const basic = basicAuth('ops-admin', adminSecret);
  const issued = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic,
      traceparent: `00-${callerTraceId}-${callerSpanId}-01`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${origin}/admin`, scope: 'admin:read' }).toString(),
  });
  t.equal(issued.status, 200, 'token issued');
  const accessToken = String(((await issued.json()) as { access_token: string }).access_token);
  // Refusals: a wrong secret, and a secret in the query string (refused, and redacted from the URL attributes).
  const wrongSecret = `adm_${randomBytes(24).toString('base64url')}`;
  const querySecret = `adm_${randomBytes(24).toString('base64url')}`;
  const wrong = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('ops-admin', wrongSecret) },
    body: 'grant_type=client_credentials',
  });
  t.equal(wrong.status, 401, 'a wrong secret is refused');
  const inQuery = await fetch(`${origin}/oauth/token?client_secret=${querySecret}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&client_id=ops-admin&client_secret=${querySecret}`,
  });
  t.equal(inQuery.status, 400, 'a secret in the query string is refused');
  // A caller's trace that is not sampled (flags 00): followed, so nothing of it is recorded.
  const unsampledTraceId = randomBytes(16).toString('hex');
  const unsampled = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic,
      traceparent: `00-${unsampledTraceId}-${randomBytes(8).toString('hex')}-00`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${origin}/admin`, scope: 'admin:read' }).toString(),
  });
  t.equal(unsampled.status, 200, 'a token for an unsampled caller');

  // SIGTERM exports what is still queued before the process exits.
  portier.child.kill('SIGTERM');
  t.equal(await portier.exited, 0, 'stopped cleanly');

  const exports = receiver.exports;
  t.ok(exports.length > 0, 'spans arrived at the receiver');
  const resource = exports[0]?.resourceSpans[0]?.resource.attributes ?? [];
  const resourceValue = (key: string) => resource.find((attribute) => attribute.key === key)?.value.stringValue;
  t.equal(resourceValue('service.name'), 'portier-under-test', 'OTEL_SERVICE_NAME');
  t.equal(resourceValue('deployment.environment.name'), 'test', 'OTEL_RESOURCE_ATTRIBUTES');
  const spans = exports.flatMap((body) =>
    body.resourceSpans.flatMap((resourceSpans) => resourceSpans.scopeSpans.flatMap((scope) => scope.spans)),
  );
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const ancestors = (span: OtlpSpan): OtlpSpan[] => {
    const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : byId.get(span.parentSpanId);
    return parent === undefined ? [] : [parent, ...ancestors(parent)];
  };

  const ours = spans.filter((span) => span.traceId === callerTraceId);
  const server = ours.find((span) => span.parentSpanId === callerSpanId);
  t.ok(server, 'the server span continues the caller’s trace, under the caller’s span');
  t.equal(
    server === undefined ? undefined : (text(server, 'http.request.method') ?? text(server, 'http.method')),
    'POST',
    'the server span has the method',
  );
  t.equal(server?.name, 'POST /oauth/token', 'the server span is named by method and route');
  t.equal(server && text(server, 'http.route'), '/oauth/token', 'and has the route');
  t.equal(server && text(server, 'url.path'), '/oauth/token', 'and the path');
  t.same(
    spans.filter((span) => span.traceId === unsampledTraceId).map((span) => span.name),
    [],
    'nothing of an unsampled caller’s trace is exported',
  );
  const named = (name: string) => ours.filter((span) => span.name === name);
  for (const name of ['portier.client_authentication', 'portier.argon2.verify', 'portier.token.sign']) {
    const [span] = named(name);
    t.ok(span, `${name}: a span in the caller's trace`);
    if (span !== undefined && server !== undefined) t.ok(ancestors(span).includes(server), `${name}: under the server span`);
  }
  const [authentication] = named('portier.client_authentication');
  t.equal(authentication && text(authentication, 'portier.client_id'), 'ops-admin', 'authentication names the client');
  t.equal(authentication && text(authentication, 'portier.client.authentication_method'), 'client_secret_basic', 'and the method');
  const [argon2] = named('portier.argon2.verify');
  if (argon2 !== undefined && authentication !== undefined) t.ok(ancestors(argon2).includes(authentication), 'argon2 under authentication');
  t.equal(argon2 && text(argon2, 'portier.argon2.matched'), true, 'the secret matched');
  const [signing] = named('portier.token.sign');
  t.equal(typeof (signing && text(signing, 'portier.signing_key.kid')), 'string', 'signing names the key');
  if (ON_POSTGRES) {
    const queries = ours.filter((span) => text(span, 'db.system.name') === 'postgresql');
    t.ok(queries.length > 0, 'database queries are spans of the request (pg)');
  }
  const refusedAuthentication = spans.find(
    (span) => span.name === 'portier.client_authentication' && text(span, 'error.type') === 'invalid_client',
  );
  t.ok(refusedAuthentication, 'a failed authentication is a span with error.type invalid_client');

  // Log lines written inside a span carry its ids.
  const tokenLine = portier
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .find((line) => line.msg === 'token issued');
  t.equal(tokenLine?.trace_id, callerTraceId, 'the "token issued" log line carries the trace_id');
  t.match(tokenLine?.span_id, /^[0-9a-f]{16}$/, 'and a span_id');

  const everything = receiver.bodies.join('\n');
  const secrets: Array<[string, string]> = [
    ['the secret', adminSecret],
    ['a wrong secret', wrongSecret],
    ['a secret in a query string', querySecret],
    ['the Authorization header', basic.slice('Basic '.length)],
    ['the access token', accessToken],
    ["the access token's signature", accessToken.split('.')[2] ?? accessToken],
    ['KEY_ENCRYPTION_KEY', keyEncryptionKey],
  ];
  for (const [what, secret] of secrets) {
    const holders = spans.flatMap((span) =>
      span.attributes
        .filter((attribute) => JSON.stringify(attribute.value).includes(secret))
        .map((attribute) => `${span.name}: ${attribute.key}`),
    );
    t.same(holders, [], `no span attribute holds ${what}`);
    t.notOk(everything.includes(secret), `nothing exported holds ${what}`);
  }
});
