import { register } from 'node:module';
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
      new HttpInstrumentation({ redactedQueryParams: SECRET_PARAMETERS, redactedQueryParamsServer: SECRET_PARAMETERS }),
      new UndiciInstrumentation(),
      // Statements as drizzle wrote them, with $1 placeholders: values (a secret's hash, a jti) never go in.
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      // Log lines written inside a span carry its trace_id and span_id; the lines still go to stdout only.
      new PinoInstrumentation({ disableLogSending: true }),
      // Its request span's url.path is the URL as sent, query string included: the path alone
      // instead (a client that puts client_secret in the query is refused, not recorded).
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        requestHook: (span, request) => span.setAttribute('url.path', pathOf(request.url)),
      }),
    ],
  });
  (await import('./token-path.js')).traceTokenPath();
  (await import('./trace-context.js')).traceEvents();
  return { shutdown: () => provider.shutdown() };
}
