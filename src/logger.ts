import { pino, type DestinationStream, type Logger } from 'pino';
import type { FastifyRequest } from 'fastify';

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
  const cut = (text: string | undefined) => text?.replace(/\nparams:[\s\S]*?(?=\n\s+at |$)/, '\nparams: [hidden]');
  serialized.message = cut(serialized.message) ?? '';
  serialized.stack = cut(serialized.stack) ?? '';
  delete serialized.params;
  return serialized;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest, err: serializeError },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
