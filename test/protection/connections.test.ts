import http from 'node:http';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { Config, ProtectionConfig } from '../../src/config.js';
import { addClient, addService, basicAuth, build, eventually, sleep, type TestServer, testConfig } from '../helpers.js';

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

t.test('at MAX_CONNECTIONS, a new connection takes the place of the oldest one that has sent no request', async (t) => {
  const server = await listening(t, { maxConnections: 3, maxConnectionsPerAddress: 0 });
  // One after the other: each has had its turns of the event loop to send a request by the time the fourth comes.
  const [oldest, ...others] = [
    await open(t, server.port, '127.0.0.10'),
    await open(t, server.port, '127.0.0.11'),
    await open(t, server.port, '127.0.0.12'),
  ];
  const fourth = await open(t, server.port, '127.0.0.20');
  t.ok(oldest !== undefined && (await closedWithin(oldest, 2000)) !== undefined, 'the oldest is closed');
  t.equal(await closedWithin(fourth, 300), undefined, 'the fourth stays');
  t.ok(
    others.every((socket) => !socket.destroyed),
    'and so do the others',
  );
});

// ---------------------------------------------------------------------------------------
// Slow connections from many addresses, near MAX_CONNECTIONS
// ---------------------------------------------------------------------------------------

/**
 * Slow connections from `addresses` (127.0.1.x), `perAddress` each, every one trickling a
 * request head that never ends and opening again as soon as it is closed, as a slowloris
 * run from many machines does. At most 200 connection attempts are under way at once: all
 * of them in one instant would overflow the kernel's queues, and test those. `stop()` ends
 * it and says how many connections it opened.
 */
function slowFlood(port: number, addresses: number, perAddress: number): { stop(): number; opened(): number } {
  let stopping = false;
  let opened = 0;
  let connecting = 0;
  const sockets = new Set<Socket>();
  const queue: string[] = [];
  const next = () => {
    while (!stopping && connecting < 200 && queue.length > 0) start(queue.shift() as string);
  };
  const start = (localAddress: string) => {
    opened += 1;
    connecting += 1;
    let attempting = true;
    const attempted = () => {
      if (!attempting) return;
      attempting = false;
      connecting -= 1;
      next();
    };
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('connect', () => {
      attempted();
      socket.write('POST /oauth/token HTTP/1.1\r\nHost: portier.test\r\n');
    });
    const timer = setInterval(() => socket.writable && socket.write('X'), 500);
    socket.once('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      attempted();
      if (stopping) return;
      queue.push(localAddress);
      next();
    });
  };
  for (let i = 0; i < perAddress; i++) for (let a = 1; a <= addresses; a++) queue.push(`127.0.1.${a}`);
  next();
  return {
    opened: () => opened,
    stop: () => {
      stopping = true;
      for (const socket of sockets) socket.destroy();
      return opened;
    },
  };
}

/** What the connection caps of `server` have closed so far, by reason. */
async function closedByCaps(server: TestServer): Promise<Record<string, number>> {
  const metric = await server.app.portier.metrics.connectionsClosed.get();
  return Object.fromEntries(metric.values.map((value) => [String(value.labels.reason), value.value]));
}

t.test('thousands of slow connections from 20 addresses, reconnecting: a client from 127.0.0.1 still gets tokens', async (t) => {
  const server = await listening(t, { maxConnections: 200 });
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  // Its secret is verified once beforehand: what is tested is getting a connection, not argon2.
  t.equal(await tokenOverHttp(server.port, '127.0.0.1', client.clientId, client.clientSecret), 200);

  const flood = slowFlood(server.port, 20, 100);
  t.teardown(() => flood.stop());
  // Until the server is full (it has made room for a new connection, or refused one) and
  // the flood is reconnecting (it has opened more than its 2,000).
  const full = await eventually(
    () => closedByCaps(server),
    (closed) => (closed.made_room ?? 0) + (closed.refused ?? 0) > 0 && flood.opened() > 2000,
    20_000,
  );
  t.ok((full.made_room ?? 0) + (full.refused ?? 0) > 0, `the slow connections fill MAX_CONNECTIONS (${JSON.stringify(full)})`);
  t.ok(flood.opened() > 2000, `and come back when closed (${flood.opened()} opened)`);

  const answers: Array<number | string> = [];
  // One every 100 ms: the requests span the flood's closing and reopening over two seconds.
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    answers.push(
      await tokenOverHttp(server.port, '127.0.0.1', client.clientId, client.clientSecret).catch(
        (error: NodeJS.ErrnoException) => error.code ?? 'error',
      ),
    );
  }
  flood.stop();
  t.same(answers, Array(20).fill(200), 'twenty new connections from 127.0.0.1, twenty tokens, no reset');
  const closed = await closedByCaps(server);
  t.ok((closed.made_room ?? 0) + (closed.slow_head ?? 0) > 0, `slow connections gave their places (${JSON.stringify(closed)})`);
});

t.test('a keep-alive connection that completed a request is kept over slow ones that never did', async (t) => {
  const server = await listening(t, { maxConnections: 50 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = () =>
    new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/healthz', agent, localAddress: '127.0.0.1' }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
      });
      req.on('error', reject);
    });
  t.same(await get(), { status: 200, reused: false }, 'a first request opens the connection');
  const flood = slowFlood(server.port, 10, 20);
  t.teardown(() => flood.stop());
  await sleep(2500);
  t.same(await get(), { status: 200, reused: true }, 'after 2.5 s of slow connections, the idle keep-alive connection is still there');
  flood.stop();
});

t.test('above 80 % of MAX_CONNECTIONS, a connection without a request head after about a second is closed', async (t) => {
  const server = await listening(t, { maxConnections: 10, requestTimeoutMs: 10_000 });
  const sockets = await Promise.all(Array.from({ length: 9 }, (_, i) => open(t, server.port, `127.0.2.${i + 1}`)));
  for (const socket of sockets) socket.write('GET /healthz HTTP/1.1\r\n');
  const closed = await Promise.all(sockets.map((socket) => closedWithin(socket, 4000)));
  t.ok(
    closed.every((after) => after !== undefined && after < 3000),
    `all nine closed long before REQUEST_TIMEOUT (${closed.join(', ')} ms)`,
  );
});

t.test('below 80 %, slow connections keep the whole REQUEST_TIMEOUT', async (t) => {
  const server = await listening(t, { maxConnections: 100, requestTimeoutMs: 10_000 });
  const sockets = await Promise.all(Array.from({ length: 5 }, (_, i) => open(t, server.port, `127.0.2.${i + 1}`)));
  await sleep(2000);
  t.ok(
    sockets.every((socket) => !socket.destroyed),
    'five slow connections of a hundred places are left alone',
  );
});

t.test('at the cap, with every connection busy with a request, a new one is refused', async (t) => {
  const server = await listening(t, { maxConnections: 3, maxConnectionsPerAddress: 0 });
  // Complete heads whose bodies never come: requests under way, not slow heads.
  const busy = await Promise.all(Array.from({ length: 3 }, (_, i) => open(t, server.port, `127.0.0.${30 + i}`)));
  for (const socket of busy)
    socket.write(
      'POST /oauth/token HTTP/1.1\r\nHost: portier.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n',
    );
  await sleep(200);
  const fourth = await open(t, server.port, '127.0.0.40');
  t.ok((await closedWithin(fourth, 2000)) !== undefined, 'the fourth is closed');
  t.ok(
    busy.every((socket) => !socket.destroyed),
    'the three requests under way are not',
  );
});

t.test('MAX_CONNECTIONS follows the open-file limit by default; a value above it is lowered to it', async (t) => {
  const { connectionCap } = await import('../../src/protection/connections.js');
  const { readFileSync } = await import('node:fs');
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((row) => row.startsWith('Max open files'));
  const soft = Number(line?.split(/\s{2,}/)[1]);
  t.ok(Number.isInteger(soft), `the open-file limit here: ${soft}`);
  const byFiles = Math.floor(soft * 0.8);
  const byMemory = Math.floor(
    Math.min(...[process.constrainedMemory(), (await import('node:os')).totalmem()].filter((n) => n > 0)) / 65_536,
  );
  t.equal(connectionCap(undefined), Math.min(byFiles, byMemory), '80 % of it (or one per 64 KiB of memory, if fewer)');
  t.equal(connectionCap(7), 7, 'a smaller MAX_CONNECTIONS as configured');
  t.equal(connectionCap(soft * 2), byFiles, 'a larger one lowered to 80 % of the limit');
});
