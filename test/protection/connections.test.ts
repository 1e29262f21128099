import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { Config, ProtectionConfig } from '../../src/config.js';
import { addClient, addService, basicAuth, build, testConfig } from '../helpers.js';

// Connection hygiene, over real sockets: slow headers and slow bodies are cut, and the caps
// on open connections keep one address from taking the server away from the others.
// 127.0.0.2 and 127.0.0.3 are other loopback addresses: another caller each.

async function listening(t: Test, protection: Partial<ProtectionConfig>, config: Partial<Config> = {}) {
  const server = await build(t, { config: { ...config, protection: { ...testConfig().protection, ...protection } } });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return { ...server, port: address.port };
}

function open(t: Test, port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.on('error', reject);
    t.teardown(() => socket.destroy());
  });
}

/** Resolves with how long the server took to close the socket, or `undefined` if still open after `limitMs`. */
function closedWithin(socket: Socket, limitMs: number): Promise<number | undefined> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), limitMs);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= text.length) return clearInterval(timer);
    socket.write(text[i] ?? '');
    i += 1;
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

async function tokenOverHttp(port: number, localAddress: string, clientId: string, secret: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret), connection: 'close' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('grant_type=client_credentials');
  });
}

t.test('headers trickled one byte at a time are cut after REQUEST_TIMEOUT', async (t) => {
  const { port } = await listening(t, { requestTimeoutMs: 1000 });
  const socket = await open(t, port, '127.0.0.2');
  trickle(socket, `POST /oauth/token HTTP/1.1\r\nHost: portier.test\r\n${'X-Slow: y\r\n'.repeat(100)}`, 100);
  const after = await closedWithin(socket, 5000);
  t.ok(after !== undefined, 'the connection is closed');
  t.ok((after ?? 0) < 3500, `within about a second of the limit (${after} ms)`);
});

t.test('a token-endpoint body trickled after the headers is cut too', async (t) => {
  const { port } = await listening(t, { requestTimeoutMs: 1000 });
  const socket = await open(t, port, '127.0.0.2');
  socket.write(
    'POST /oauth/token HTTP/1.1\r\nHost: portier.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n',
  );
  trickle(socket, 'grant_type=client_credentials&'.padEnd(200, 'x'), 100);
  const after = await closedWithin(socket, 5000);
  t.ok(after !== undefined, 'the connection is closed');
  t.ok((after ?? 0) < 3500, `within about a second of the limit (${after} ms)`);
});

t.test('connections per address are capped; another address still gets tokens', async (t) => {
  const server = await listening(t, { maxConnectionsPerAddress: 5 });
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });

  const held = await Promise.all(Array.from({ length: 5 }, () => open(t, server.port, '127.0.0.2')));
  const extra = await open(t, server.port, '127.0.0.2');
  t.ok((await closedWithin(extra, 2000)) !== undefined, 'the sixth connection from 127.0.0.2 is closed at once');
  for (const socket of held) t.notOk(socket.destroyed, 'the first five stay open');
  t.equal(await tokenOverHttp(server.port, '127.0.0.3', client.clientId, client.clientSecret), 200, '127.0.0.3 still gets a token');

  held[0]?.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = await open(t, server.port, '127.0.0.2');
  t.equal(await closedWithin(again, 300), undefined, 'a closed connection frees its place');
});

t.test('trusted proxies are not capped per address (every caller arrives through them)', async (t) => {
  const server = await listening(t, { maxConnectionsPerAddress: 2 }, { trustProxy: ['127.0.0.4'] });
  const sockets = await Promise.all(Array.from({ length: 4 }, () => open(t, server.port, '127.0.0.4')));
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(
    sockets.every((socket) => !socket.destroyed),
    'four connections from the proxy stay open',
  );
  const other = await Promise.all(Array.from({ length: 3 }, () => open(t, server.port, '127.0.0.5')));
  t.ok((await closedWithin(other[2] as Socket, 2000)) !== undefined, 'anyone else is still capped');
});

t.test('the overall cap closes connections beyond MAX_CONNECTIONS', async (t) => {
  const server = await listening(t, { maxConnections: 3, maxConnectionsPerAddress: 0 });
  await Promise.all(Array.from({ length: 3 }, (_, i) => open(t, server.port, `127.0.0.${10 + i}`)));
  const fourth = await open(t, server.port, '127.0.0.20');
  t.ok((await closedWithin(fourth, 2000)) !== undefined, 'the fourth is closed');
});
