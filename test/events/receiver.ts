import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestLike } from '../helpers.js';

/** A request a receiver got. */
export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A webhook receiver: a real HTTP server on loopback that records what it gets and
 * answers with `answer` (200 by default). For the tests of src/events/.
 */
export async function startReceiver(
  t: TestLike,
  answer: (request: Received, response: ServerResponse, index: number) => void = (_, response) => response.end('ok'),
): Promise<{ url: string; received: Received[]; setAnswer(next: typeof answer): void }> {
  const received: Received[] = [];
  let current = answer;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      current(entry, response, received.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/portier`,
    received,
    setAnswer: (next) => {
      current = next;
    },
  };
}

/**
 * The receiver's check of a delivery, as docs/events.md writes it: the HMAC-SHA256 of
 * `<t>.<body>` under the webhook's secret, compared in constant time, and `t` recent.
 */
export function verifySignature(secret: string, header: string | undefined, body: string, nowSeconds: number): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((part) => part.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) && Math.abs(nowSeconds - t) <= 300;
}
