import { register } from 'node:module';
import type { Span } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { TracingSettings } from './settings.js';

/**
 * OpenTelemetry tracing, started by server.ts before the app is loaded and only when
 * tracing/settings.ts says it is on: with tracing off, this module and the SDK are never
 * read. The SDK takes the standard variables itself: the endpoint (OTEL_EXPORTER_OTLP_*),
 * the sampler (OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG), the resource
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and the batching (OTEL_BSP_*).
 */

/** OAuth parameters that may carry a secret: redacted from any URL's query string that reaches a span. */
const SECRET_PARAMETERS = [
  'client_secret',
  'client_assertion',
  'assertion',
  'subject_token',
  'actor_token',
  'token',
  'access_token',
  'refresh_token',
  'code',
  'password',
  'state',
];

/** A request target without its query string. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The server span as the HTTP semantic conventions name it (`POST /oauth/token`), with the
 * path alone as `url.path` (@fastify/otel puts the URL as sent, query string included: a
 * client that puts client_secret in the query is refused, not recorded). Nothing for a span
 * that is not recorded, as 99 of 100 are at 1 % sampling.
 */
function describeServerSpan(span: Span, request: FastifyRequest): void {
  if (!span.isRecording()) return;
  const route = request.routeOptions.url;
  span.updateName(route === undefined ? request.method : `${request.method} ${route}`);
  span.setAttributes({ 'url.path': pathOf(request.url), 'url.scheme': request.protocol, 'client.address': request.ip });
}

export interface Tracing {
  /** Exports the spans still queued, then stops (on SIGTERM, before the process exits). */
  shutdown(): Promise<void>;
}

export async function startTracing(settings: TracingSettings): Promise<Tracing> {
  // First of all: Portier is ES modules, and what it imports (pg through drizzle, pino,
  // node:http) is seen by the instrumentations only through import-in-the-middle's loader
  // hook, registered before any of those modules is loaded.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { detectResources, envDetector, resourceFromAttributes },
    { ATTR_SERVICE_NAME },
    { registerInstrumentations },
    { HttpInstrumentation },
    { UndiciInstrumentation },
    { PgInstrumentation },
    { PinoInstrumentation },
    { FastifyOtelInstrumentation },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-pino'),
    import('@fastify/otel'),
  ]);
  // The stable semantic conventions (http.request.method, url.path, db.query.text …) rather
  // than the instrumentations' older default names, unless the operator chose otherwise.
  process.env.OTEL_SEMCONV_STABILITY_OPT_IN ??= 'http,database';
  const exporter =
    settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  // `portier` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'portier' }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  // The global provider, AsyncLocalStorage for the active span, and W3C traceparent both ways.
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Outgoing node:http calls only: the server span is Fastify's (below), which costs an
      // unsampled request less than this instrumentation's (its attributes built before the
      // sampler decides, the request's and response's event emitters bound to the context).
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true, redactedQueryParams: SECRET_PARAMETERS }),
      new UndiciInstrumentation(),
      // Statements as drizzle wrote them, with $1 placeholders: values (a secret's hash, a jti)
      // never go in. Only inside a request's trace: the background batches (usage, last use)
      // would each start a trace of their own; no span for taking a pooled connection.
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true, ignoreConnectSpans: true }),
      // Log lines written inside a span carry its trace_id and span_id; the lines still go to stdout only.
      new PinoInstrumentation({ disableLogSending: true }),
      // The server span (the caller's traceparent continued) and one span for the route's
      // handler, which the token path's spans hang under; not one per hook, which cost every
      // request, sampled or not, a span, a context switch and a promise each.
      new FastifyOtelInstrumentation({ registerOnInitialization: true, instrumentHooks: false, requestHook: describeServerSpan }),
    ],
  });
  (await import('./token-path.js')).traceTokenPath();
  (await import('./trace-context.js')).traceEvents();
  return { shutdown: () => provider.shutdown() };
}
