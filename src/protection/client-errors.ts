import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** A complete HTTP answer to a request the parser gave up on, built once; the body is the JSON Fastify gives by default. */
function parserAnswer(status: number, message: string): Buffer {
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = JSON.stringify({ error: reason, message, statusCode: status });
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    'latin1',
  );
}

/** By Node's error code; anything else the parser refuses is a 400. */
const ANSWERS: ReadonlyMap<string | undefined, Buffer> = new Map([
  ['ERR_HTTP_REQUEST_TIMEOUT', parserAnswer(408, 'Client Timeout')],
  ['HPE_HEADER_OVERFLOW', parserAnswer(431, 'Exceeded maximum allowed HTTP header size')],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', parserAnswer(413, 'Chunk extensions too large')],
]);
const BAD_REQUEST = parserAnswer(400, 'Client Error');

/**
 * Fastify's `clientErrorHandler`: answers a connection whose request Node's HTTP parser gave
 * up on (a head that did not arrive within REQUEST_TIMEOUT, headers over the size limit,
 * bytes that are not HTTP) and closes it. Fastify's own handler answers the same, but builds
 * the answer anew each time and destroys the socket with Node's error, which formats the
 * error's stack trace for no one; under a slow-connection attack thousands of connections
 * a minute end here, on the thread that issues tokens.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection is gone already: there is no one to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) socket.write(ANSWERS.get(error.code) ?? BAD_REQUEST);
  socket.destroy();
}
