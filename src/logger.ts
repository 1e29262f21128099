import type { FastifyRequest } from 'fastify';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import { redactSecrets } from './lib/redact.js';

/**
 * Paths pino blanks out wherever they appear. The request serializer below already keeps
 * headers and query strings out of the log; this is the second line of defence for
 * anything a developer logs by hand.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'client_secret',
  'client_assertion',
  'access_token',
  'token',
  '*.authorization',
  '*.client_secret',
  '*.client_assertion',
  '*.access_token',
  '*.token',
  '*.clientSecret',
];

/** Logs the method, the path without its query string (which may carry a secret) and the caller's IP. */
function serializeRequest(request: FastifyRequest) {
  const url = request.url ?? '';
  const queryAt = url.indexOf('?');
  return {
    method: request.method,
    url: queryAt < 0 ? url : url.slice(0, queryAt),
    remoteAddress: request.ip,
  };
}

/**
 * Errors as pino's standard serializer has them, minus query parameters: Drizzle puts a
 * failed query's parameters (which can be a secret hash or a private key) into the error's
 * message, stack and `params`.
 */
function serializeError(error: Error) {
  const serialized = pino.stdSerializers.err(error) as ReturnType<typeof pino.stdSerializers.err> & { params?: unknown };
  const cut = (text: string | undefined) =>
    text === undefined ? undefined : redactSecrets(text.replace(/\nparams:[\s\S]*?(?=\n\s+at |$)/, '\nparams: [hidden]'));
  serialized.message = cut(serialized.message) ?? '';
  serialized.stack = cut(serialized.stack) ?? '';
  delete serialized.params;
  return serialized;
}

/**
 * Anything shaped like a Portier secret is blanked wherever it appears in a log line: in
 * the message and in every string of the logged object. Named fields (REDACTED_PATHS)
 * catch secrets where they belong; this catches them where they do not (a secret sent as
 * a client_id, pasted into a scope, quoted in an error message).
 */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 6 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1));
  // Errors (and other class instances) keep their shape for the serializers, which redact them.
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactDeep(item, depth + 1);
  return copy;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest, err: serializeError },
    formatters: { log: (object) => redactDeep(object) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((arg) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
      },
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
