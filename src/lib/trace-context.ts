/**
 * The W3C trace context of work that outlives its request: an event is written inside an
 * admin request's span and delivered later, by a worker, to a webhook. The event's row keeps
 * the `traceparent` of the span active when it was written (db/schema.ts), and the delivery
 * carries it onwards. Without tracing there is no span: `traceparentNow` gives null and no
 * OpenTelemetry module is loaded; tracing/events.ts installs the traced version at start.
 */
export interface TraceContext {
  /** The `traceparent` of the span active now (`00-<trace id>-<span id>-<flags>`), or null. */
  traceparentNow(): string | null;
  /**
   * Runs `send`, an outgoing request with `headers`, as part of the trace `traceparent`
   * names (null: of none, and not of whatever span happens to be active). Untraced, the
   * stored `traceparent` goes into the headers as it is; traced, the request's own client
   * span is made its child, and the HTTP instrumentation writes that span's `traceparent`.
   */
  sendWithin<T>(traceparent: string | null, headers: Record<string, string>, send: () => Promise<T>): Promise<T>;
  /** Runs `work` outside any trace: a background loop that a request woke is not part of that request. */
  detached<T>(work: () => T): T;
}

const untraced: TraceContext = {
  traceparentNow: () => null,
  sendWithin: (traceparent, headers, send) => {
    if (traceparent !== null) headers.traceparent = traceparent;
    return send();
  },
  detached: (work) => work(),
};

let current: TraceContext = untraced;

export function traceContext(): TraceContext {
  return current;
}

/** Called once by tracing/start.ts, before the app is built. */
export function installTraceContext(traced: TraceContext): void {
  current = traced;
}

/** The shape of a W3C traceparent of version 00, as stored; anything else is not sent on. */
export const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
