import { connect } from 'node:net';
import t, { type Test } from 'tap';
import type { ProtectionConfig } from '../../src/config.js';
import { build, testConfig } from '../helpers.js';

// What a connection gets when Node's HTTP parser gives up on its request: an answer built
// once (protection/client-errors.ts), then the connection is closed. Over real sockets,
// since no request object ever exists for these.

async function listening(t: Test, protection: Partial<ProtectionConfig> = {}) {
  const server = await build(t, { config: { protection: { ...testConfig().protection, ...protection } } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return address.port;
}

/** Sends `bytes` from 127.0.0.2 and collects everything the server writes until it closes the connection (or 5 s pass). */
function exchange(t: Test, port: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }, () => socket.write(bytes));
    t.teardown(() => socket.destroy());
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false }), 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
  });
}

/** Status line, headers (lower-cased names) and body of one HTTP/1.1 answer. */
function parseAnswer(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { statusLine, headers, body };
}

function checkAnswer(t: Test, answer: { text: string; closed: boolean }, statusLine: string, message: string): void {
  t.ok(answer.closed, 'the server closes the connection');
  const { statusLine: line, headers, body } = parseAnswer(answer.text);
  t.equal(line, statusLine);
  t.equal(headers.connection, 'close', 'the answer says the connection closes');
  t.equal(headers['content-type'], 'application/json');
  t.equal(Number(headers['content-length']), Buffer.byteLength(body), 'Content-Length is the length of the body');
  const status = Number(statusLine.split(' ')[1]);
  t.same(JSON.parse(body), { error: statusLine.split(' ').slice(2).join(' '), message, statusCode: status });
}

t.test('bytes that are not HTTP get 400 and the connection is closed', async (t) => {
  const port = await listening(t);
  checkAnswer(t, await exchange(t, port, 'HELLO THERE\r\n\r\n'), 'HTTP/1.1 400 Bad Request', 'Client Error');
});

t.test('a request head over the size limit gets 431', async (t) => {
  const port = await listening(t);
  const head = `GET /healthz HTTP/1.1\r\nHost: portier.test\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
  checkAnswer(
    t,
    await exchange(t, port, head),
    'HTTP/1.1 431 Request Header Fields Too Large',
    'Exceeded maximum allowed HTTP header size',
  );
});

t.test('a head that does not arrive within REQUEST_TIMEOUT gets 408', async (t) => {
  const port = await listening(t, { requestTimeoutMs: 1000 });
  const answer = await exchange(t, port, 'POST /oauth/token HTTP/1.1\r\nHost: portier.test\r\n');
  checkAnswer(t, answer, 'HTTP/1.1 408 Request Timeout', 'Client Timeout');
});

t.test('a well-formed request on the same server is answered as usual', async (t) => {
  const port = await listening(t);
  const answer = await exchange(t, port, 'GET /healthz HTTP/1.1\r\nHost: portier.test\r\nConnection: close\r\n\r\n');
  t.match(parseAnswer(answer.text).statusLine, /^HTTP\/1\.1 200 /);
});
