/**
 * Whether this process exports traces: the OpenTelemetry SDK's own variables decide, as for
 * any OpenTelemetry-instrumented service. Read before anything else is loaded, and with no
 * OpenTelemetry module: with tracing off, none is ever loaded (tracing/start.ts is not).
 */

/** The OTLP protocols Portier exports with (OTEL_EXPORTER_OTLP_PROTOCOL); gRPC is not one of them. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export interface TracingSettings {
  protocol: OtlpProtocol;
}

/** A tracing variable with a value Portier cannot use. */
export class TracingSettingError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'TracingSettingError';
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/**
 * On when an OTLP endpoint is named (OTEL_EXPORTER_OTLP_ENDPOINT, or the traces-only
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unless OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none. Undefined: off.
 */
export function tracingSettings(env: NodeJS.ProcessEnv): TracingSettings | undefined {
  const endpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (endpoint === undefined) return undefined;
  if (nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') return undefined;
  const exporter = nonEmpty(env.OTEL_TRACES_EXPORTER)?.toLowerCase();
  if (exporter === 'none') return undefined;
  if (exporter !== undefined && exporter !== 'otlp')
    throw new TracingSettingError('OTEL_TRACES_EXPORTER', `is "${exporter}": Portier exports with otlp only (or none)`);
  const variable =
    nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) === undefined ? 'OTEL_EXPORTER_OTLP_PROTOCOL' : 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL';
  const protocol = nonEmpty(env[variable]) ?? 'http/protobuf';
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new TracingSettingError(
      variable,
      `is "${protocol}": use ${OTLP_PROTOCOLS.join(' or ')} (an OpenTelemetry Collector takes both on port 4318)`,
    );
  }
  return { protocol: protocol as OtlpProtocol };
}
