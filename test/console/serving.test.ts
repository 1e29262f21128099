import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { consoleRoutes } from '../../src/http/console.js';
import { build } from '../helpers.js';
import { ensureConsoleBuilt } from './browser.js';

/** /console over inject(): the headers of every answer, the history-API fallback, an unbuilt console. */

t.test('every console answer carries the security headers; screens get index.html', async (t) => {
  ensureConsoleBuilt();
  const { app } = await build(t);
  const index = await app.inject({ method: 'GET', url: '/console' });
  t.equal(index.statusCode, 200);
  t.match(index.headers['content-type'], /^text\/html/);
  t.match(index.body, /<div id="root"><\/div>/);
  for (const url of ['/console/', '/console/clients?owner=alice', '/console/clients/eaglebe-events', '/console/services/x/y']) {
    const response = await app.inject({ method: 'GET', url });
    t.equal(response.statusCode, 200, url);
    t.equal(response.body, index.body, `${url}: index.html`);
    t.equal(response.headers['cache-control'], 'no-cache');
  }
  const missing = await app.inject({ method: 'GET', url: '/console/assets/nope.js' });
  t.equal(missing.statusCode, 404);
  for (const response of [index, missing]) {
    const csp = String(response.headers['content-security-policy']);
    t.match(csp, /default-src 'self'/);
    t.match(csp, /frame-ancestors 'none'/);
    t.notMatch(csp, /unsafe-inline|unsafe-eval/);
    t.equal(response.headers['x-content-type-options'], 'nosniff');
    t.equal(response.headers['referrer-policy'], 'no-referrer');
  }
  const documentPaths = Object.keys((await app.inject({ method: 'GET', url: '/docs/json' })).json().paths);
  t.notOk(
    documentPaths.some((path) => path.startsWith('/console')),
    'the console is not part of the OpenAPI document',
  );
  const admin = await app.inject({ method: 'GET', url: '/admin/clients' });
  t.equal(admin.headers['content-security-policy'], undefined, 'the headers are the console’s own');
});

t.test('an unbuilt console says how to build it', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'portier-console-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  const app = Fastify();
  await app.register(consoleRoutes, { directory: empty });
  t.teardown(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/console/clients' });
  t.equal(response.statusCode, 404);
  t.match(response.body, 'npm run build');
  t.equal(response.headers['x-content-type-options'], 'nosniff');
});
