import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { build } from './helpers.js';

// MANAGEMENT_PORT: /metrics, /healthz and /readyz on a listener of their own, /metrics no
// longer on the public port, and both listeners closed by the graceful shutdown. Real
// sockets, since the point is which port answers what.

/** The base URL `app` listens on. */
function baseUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return `http://127.0.0.1:${address.port}`;
}

/** Whether anything accepts a TCP connection on `port` of loopback. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function portOf(app: FastifyInstance): number {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return address.port;
}

t.test('with MANAGEMENT_PORT: metrics there only, health and readiness on both', async (t) => {
  const server = await build(t, { config: { management: { port: 0, host: '127.0.0.1' } } });
  const { app } = server;
  const management = app.management;
  if (management === undefined) throw new Error('no management app');
  await app.listen({ port: 0, host: '127.0.0.1' });
  await management.listen({ port: 0, host: '127.0.0.1' });
  const publicUrl = baseUrl(app);
  const managementUrl = baseUrl(management);
  t.not(publicUrl, managementUrl, 'two listeners');

  const metrics = await fetch(`${managementUrl}/metrics`);
  t.equal(metrics.status, 200, '/metrics on the management port');
  t.match(metrics.headers.get('content-type'), /^text\/plain/);
  t.match(await metrics.text(), /portier_process_resident_memory_bytes/);

  const publicMetrics = await fetch(`${publicUrl}/metrics`);
  t.equal(publicMetrics.status, 404, '/metrics is gone from the public port');
  await publicMetrics.arrayBuffer();

  for (const url of [publicUrl, managementUrl]) {
    const healthz = await fetch(`${url}/healthz`);
    t.equal(healthz.status, 200, `${url}/healthz`);
    t.same(await healthz.json(), { status: 'ok' });
    const readyz = await fetch(`${url}/readyz`);
    t.equal(readyz.status, 200, `${url}/readyz`);
    t.same(await readyz.json(), { status: 'ready' });
  }

  // Nothing else is routed on the management port: not the token endpoint, not the admin API.
  for (const path of ['/oauth/token', '/admin/clients', '/.well-known/jwks.json', '/console']) {
    const response = await fetch(`${managementUrl}${path}`, { method: path === '/oauth/token' ? 'POST' : 'GET' });
    t.equal(response.status, 404, `${path} is not on the management port`);
    await response.arrayBuffer();
  }
  const jwks = await fetch(`${publicUrl}/.well-known/jwks.json`);
  t.equal(jwks.status, 200, 'the public port serves as before');
  await jwks.arrayBuffer();

  // The database gone: both readiness probes say so.
  await server.database.close();
  for (const url of [publicUrl, managementUrl]) {
    const readyz = await fetch(`${url}/readyz`);
    t.equal(readyz.status, 503, `${url}/readyz without the database`);
    await readyz.arrayBuffer();
  }
});

t.test('graceful shutdown closes both listeners', async (t) => {
  const { app } = await build(t, { config: { management: { port: 0, host: '127.0.0.1' } } });
  const management = app.management;
  if (management === undefined) throw new Error('no management app');
  await app.listen({ port: 0, host: '127.0.0.1' });
  await management.listen({ port: 0, host: '127.0.0.1' });
  const ports = [portOf(app), portOf(management)];
  for (const port of ports) t.ok(await accepts(port), `port ${port} accepts before the shutdown`);
  await app.close();
  t.notOk(app.server.listening, 'the public listener is closed');
  t.notOk(management.server.listening, 'the management listener is closed');
  for (const port of ports) t.notOk(await accepts(port), `port ${port} refuses after the shutdown`);
});

t.test('without MANAGEMENT_PORT everything stays on the public port', async (t) => {
  const { app } = await build(t);
  t.equal(app.management, undefined, 'no management listener');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = baseUrl(app);
  for (const path of ['/metrics', '/healthz', '/readyz']) {
    const response = await fetch(`${url}${path}`);
    t.equal(response.status, 200, path);
    await response.arrayBuffer();
  }
});
