import { context, propagation, ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { installTraceContext } from '../lib/trace-context.js';

/**
 * The traced version of lib/trace-context.ts, installed by tracing/start.ts: events keep
 * the traceparent of the span that wrote them, and their deliveries go out as part of that
 * trace (the webhook request's client span a child of the admin request's span).
 */

function traceparentNow(): string | null {
  const span = trace.getActiveSpan();
  if (span === undefined) return null;
  const { traceId, spanId, traceFlags } = span.spanContext();
  if (!trace.isSpanContextValid(span.spanContext())) return null;
  const sampled = (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  // A sampled span that has ended is a request's that is over (its context lives on in
  // timers it started, such as a summary of refused requests written later): not this
  // work's trace. An unsampled one cannot tell, and costs a receiver nothing.
  if (sampled && !span.isRecording()) return null;
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export function traceEvents(): void {
  installTraceContext({
    traceparentNow,
    sendWithin: (traceparent, _headers, send) =>
      // The undici instrumentation starts the request's span under this context and writes its traceparent.
      context.with(traceparent === null ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, { traceparent }), send),
    detached: (work) => context.with(ROOT_CONTEXT, work),
  });
}
