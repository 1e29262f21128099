import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { Lookup } from '../../src/lib/fence.js';
import { Outbound, OutboundError, type OutboundSettings } from '../../src/lib/outbound.js';
import { makeCa, serverCertificate } from '../pki.js';

// lib/outbound.ts against real servers on the loopback, started here: plain HTTP, HTTPS
// with a CA made in the test, a server that sends too much, one that stalls, and the
// private-address fence (a literal address, a host name resolving to loopback, and a
// resolver that answers loopback after the check, as DNS rebinding would).

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

const CA = makeCa('outbound test CA');
const CERT = serverCertificate(CA, 'outbound test server');

/** A server on 127.0.0.1: the requests it received, the connections it accepted, its answer (changeable). */
async function startServer(t: Test, tls = false) {
  const received: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  let connections = 0;
  let handler: Handler = (_request, _body, response) => response.end('hello');
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      handler(request, body, response);
    });
  };
  const server: Server = tls ? createHttpsServer({ key: CERT.key, cert: CERT.cert }, listener) : createHttpServer(listener);
  server.on(tls ? 'secureConnection' : 'connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/', host = '127.0.0.1') => `${tls ? 'https' : 'http'}://${host}:${port}${path}`,
    received,
    connections: () => connections,
    answer(next: Handler) {
      handler = next;
    },
  };
}

/**
 * undici hands a connection back to its pool a tick after the answer has been read (its
 * `drain`): a call made in that same tick would take another connection. Real callers
 * have other work between two calls; the tests wait this one tick for it.
 */
const handedBack = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An Outbound with loopback allowed and a generous deadline, closed at teardown. */
function outbound(t: Test, settings: Partial<OutboundSettings> = {}): Outbound {
  const made = new Outbound({
    label: 'test call',
    allowPrivate: true,
    httpsOnly: false,
    timeoutMs: 10_000,
    maxResponseBytes: 1024,
    ...settings,
  });
  t.teardown(() => made.close());
  return made;
}

t.test('plain HTTP: the request as sent, the answer as read, connections kept alive', async (t) => {
  const server = await startServer(t);
  server.answer((_request, body, response) => response.writeHead(201, { 'x-answer': 'yes' }).end(`got ${body}`));
  const client = outbound(t);
  for (let i = 0; i < 5; i += 1) {
    t.equal((await client.request(server.url())).body.toString(), 'got ');
    await handedBack();
  }
  t.equal(server.connections(), 1, 'five calls, one connection');
  t.equal(server.received[4]?.headers.connection, 'keep-alive');

  const answer = await client.request(server.url('/path?q=1'), {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'x-asked': 'please' },
    body: 'ping',
  });
  t.equal(answer.status, 201);
  t.equal(answer.headers['x-answer'], 'yes');
  t.equal(answer.body.toString(), 'got ping');
  t.match(server.received[5], { method: 'POST', url: '/path?q=1', body: 'ping', headers: { 'x-asked': 'please' } });

  const redirect = await (async () => {
    server.answer((_request, _body, response) => response.writeHead(302, { location: server.url('/elsewhere') }).end());
    return client.request(server.url('/moved'));
  })();
  t.equal(redirect.status, 302, 'a redirect is an answer: not followed');
  t.notOk(
    server.received.some((request) => request.url === '/elsewhere'),
    'the redirect target was not fetched',
  );
});

t.test('HTTPS with a CA made here: trusted when configured, refused otherwise', async (t) => {
  const server = await startServer(t, true);
  const trusting = outbound(t, { ca: CA.cert, httpsOnly: true });
  t.equal((await trusting.request(server.url('/keys'))).body.toString(), 'hello', 'by address');
  t.equal((await trusting.request(server.url('/keys', 'localhost'))).body.toString(), 'hello', 'by name');
  t.equal((await trusting.request(server.url('/keys'))).status, 200);
  t.equal(server.connections(), 2, 'kept alive: one connection per origin');

  const untrusting = outbound(t, { httpsOnly: true });
  await t.rejects(untrusting.request(server.url('/keys')), { name: 'OutboundError', kind: 'connection', message: /^test call / });
  await t.rejects(trusting.request(server.url('/keys').replace('https:', 'http:')), {
    kind: 'refused',
    message: 'test call is not https',
  });
  await t.rejects(trusting.request('not a url'), { kind: 'refused', message: 'test call is not a URL' });
  await t.rejects(outbound(t).request('ftp://127.0.0.1/'), { kind: 'refused', message: 'test call is not http or https' });
  t.equal(server.received.length, 3, 'the refused calls sent nothing');
});

t.test('a server that sends too much: refused, declared or counted, and the connection cut', async (t) => {
  const server = await startServer(t);
  const client = outbound(t, { maxResponseBytes: 1000 });
  server.answer((_request, _body, response) => response.end('x'.repeat(1000)));
  t.equal((await client.request(server.url())).body.length, 1000, 'the cap itself is fine');

  server.answer((_request, _body, response) => response.end('x'.repeat(5000)));
  await t.rejects(client.request(server.url()), { kind: 'too_large', message: 'test call answer is larger than 1000 bytes' });

  // No Content-Length: chunks, counted as they arrive, and the rest never asked for.
  let written = 0;
  server.answer((_request, _body, response) => {
    const more = () => {
      while (written < 10_000_000 && response.write('y'.repeat(16_384))) written += 16_384;
      if (written < 10_000_000) response.once('drain', more);
      else response.end();
    };
    more();
  });
  await t.rejects(client.request(server.url()), { kind: 'too_large', message: /larger than 1000 bytes/ });
  t.ok(written < 10_000_000, 'the connection was cut before the server could send it all');

  // Not read: an answer whose status the caller does not want is dropped, whatever its size.
  server.answer((_request, _body, response) => response.writeHead(500).end('z'.repeat(5000)));
  const dropped = await client.request(server.url(), { readBody: (status) => status === 200 });
  t.equal(dropped.status, 500);
  t.equal(dropped.body.length, 0);
});

t.test('a server that stalls: a timeout, before the headers or in the middle of the body', async (t) => {
  const server = await startServer(t);
  const client = outbound(t, { timeoutMs: 300 });
  server.answer(() => {
    // Never answers.
  });
  await t.rejects(client.request(server.url()), {
    name: 'OutboundError',
    kind: 'timeout',
    message: /^test call did not answer within 300 ms$/,
  });

  server.answer((_request, _body, response) => {
    response.writeHead(200, { 'content-length': '100' });
    response.write('partial');
  });
  await t.rejects(client.request(server.url()), { name: 'OutboundError', kind: 'timeout' });

  const slower = outbound(t, { timeoutMs: 10_000, headersTimeoutMs: 300 });
  server.answer(() => {});
  await t.rejects(slower.request(server.url()), { kind: 'timeout', message: 'test call did not answer within 300 ms' });
  await t.rejects(slower.request(server.url(), { timeoutMs: 200 }), { kind: 'timeout', message: /within 200 ms/ }, "a call's own deadline");

  // The caller's own abort: the call rejects with its reason, untouched.
  const controller = new AbortController();
  const pending = client.request(server.url(), { signal: controller.signal });
  const reason = new Error('shutting down');
  controller.abort(reason);
  await t.rejects(pending, reason);
});

t.test('the private-address fence: nothing reaches a non-public address unless allowed', async (t) => {
  const server = await startServer(t);
  const fenced = outbound(t, { allowPrivate: false });
  for (const address of [
    '127.0.0.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '10.1.2.3',
    '192.168.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '[fd00::1]',
  ]) {
    await t.rejects(
      fenced.request(`http://${address}:${server.port}/`),
      { kind: 'refused', message: /^test call names a non-public address \(/ },
      address,
    );
  }
  await t.rejects(fenced.request('http://10.1.2.3/'), { message: 'test call names a non-public address (10.1.2.3)' });
  await t.rejects(
    fenced.request(server.url('/', 'localhost')),
    { kind: 'refused', message: /^test call host resolves to a non-public address \((127\.0\.0\.1|::1)\)$/ },
    'a host name resolving to loopback',
  );
  t.equal(server.connections(), 0, 'not even a connection');

  // A resolver that answered loopback after any check made before (DNS rebinding): the
  // address the socket connected to is checked, and no request goes out on it.
  const rebinding: Lookup = (_host, options, callback) => {
    if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  };
  const rebound = outbound(t, { allowPrivate: false, lookup: rebinding });
  await t.rejects(rebound.request(server.url('/', 'public.example')), {
    kind: 'refused',
    message: 'test call connected to a non-public address (127.0.0.1)',
  });
  await t.rejects(
    rebound.request(server.url('/', 'public.example'), { label: 'another call' }),
    { kind: 'refused', message: 'another call connected to a non-public address (127.0.0.1)' },
    "the call's own label",
  );
  t.equal(server.received.length, 0, 'nothing was sent');

  t.equal((await outbound(t, { allowPrivate: true }).request(server.url('/', 'localhost'))).status, 200, 'allowed: reached');
});

t.test('retryClosed: a kept-alive connection closed under a request is tried once more on a new one', async (t) => {
  const server = await startServer(t);
  const served = new WeakMap<Socket, number>();
  server.answer((request, _body, response) => {
    const count = (served.get(request.socket) ?? 0) + 1;
    served.set(request.socket, count);
    // The second request on a connection finds it closing, as with a server's keep-alive timeout.
    if (count === 2) request.socket.destroy();
    else response.end('ok');
  });
  const client = outbound(t);
  t.equal((await client.request(server.url(), { method: 'POST', body: 'a', retryClosed: true })).body.toString(), 'ok');
  await handedBack();
  t.equal((await client.request(server.url(), { method: 'POST', body: 'b', retryClosed: true })).body.toString(), 'ok', 'retried');
  t.equal(server.connections(), 2);
  t.equal(server.received.length, 3, 'the cut request and its retry');

  const once = outbound(t);
  await once.request(server.url(), { method: 'POST', body: 'c' });
  await handedBack();
  const error = await once.request(server.url(), { method: 'POST', body: 'd' }).catch((caught: unknown) => caught);
  t.ok(error instanceof OutboundError && error.kind === 'connection', 'without retryClosed: a connection failure');
});
