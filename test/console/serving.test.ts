import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
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

t.test('compressed as the browser takes it; hashed assets cached for good, index.html revalidated', async (t) => {
  ensureConsoleBuilt();
  const { app } = await build(t);
  const index = await app.inject({ method: 'GET', url: '/console/clients' });
  const script = /src="\/console\/(assets\/[^"]+\.js)"/.exec(index.body)?.[1];
  if (script === undefined) throw new Error('no script in index.html');
  const plain = await app.inject({ method: 'GET', url: `/console/${script}` });
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: as it is');
  t.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.equal(plain.headers.vary, 'accept-encoding');
  const cases: Array<[string, string | undefined, (body: Buffer) => Buffer]> = [
    ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
    ['gzip, deflate', 'gzip', gunzipSync],
    ['br;q=0, gzip;q=0.5', 'gzip', gunzipSync],
    ['*', 'br', brotliDecompressSync],
    ['br;q=0, gzip;q=0', undefined, (body) => body],
    ['identity', undefined, (body) => body],
  ];
  for (const [accept, encoding, decode] of cases) {
    const response = await app.inject({ method: 'GET', url: `/console/${script}`, headers: { 'accept-encoding': accept } });
    t.equal(response.headers['content-encoding'], encoding, `Accept-Encoding: ${accept} → ${encoding ?? 'none'}`);
    t.ok(decode(response.rawPayload).equals(plain.rawPayload), `${accept}: the same script`);
    if (encoding !== undefined) t.ok(response.rawPayload.length < plain.rawPayload.length / 2, `${accept}: smaller`);
  }
  const gzippedIndex = await app.inject({ method: 'GET', url: '/console/sessions', headers: { 'accept-encoding': 'gzip' } });
  t.equal(gzippedIndex.headers['content-encoding'], 'gzip');
  t.equal(gzippedIndex.headers['cache-control'], 'no-cache', 'index.html is revalidated, compressed or not');
  t.equal(gunzipSync(gzippedIndex.rawPayload).toString('utf8'), index.body);
  // What a person's browser fetches: the script and, for a language other than English, that
  // language's catalogue (its own chunk, loaded when needed).
  const catalogueChunks = [...plain.rawPayload.toString('utf8').matchAll(/\.\/((?:nl|fr|de)-[\w-]+\.js)/g)].map((m) => m[1]);
  t.equal(new Set(catalogueChunks).size, 3, 'the Dutch, French and German catalogues are chunks of their own');
  let largestCatalogue = 0;
  for (const chunk of new Set(catalogueChunks)) {
    const answer = await app.inject({ method: 'GET', url: `/console/assets/${chunk}` });
    t.equal(answer.statusCode, 200, `${chunk} is served`);
    largestCatalogue = Math.max(largestCatalogue, gzipSync(answer.rawPayload).length);
  }
  t.ok(gzipSync(plain.rawPayload).length + largestCatalogue < 120 * 1024, 'the script and one catalogue are under 120 KB gzipped');
});

t.test('a favicon, and the stylesheet of the sign-in refusal page', async (t) => {
  ensureConsoleBuilt();
  const { app } = await build(t);
  for (const url of ['/favicon.ico', '/console/favicon.svg']) {
    const icon = await app.inject({ method: 'GET', url });
    t.equal(icon.statusCode, 200, url);
    t.equal(icon.headers['content-type'], 'image/svg+xml', `${url}: the SVG icon`);
    t.match(icon.body, /^<svg /);
  }
  const index = await app.inject({ method: 'GET', url: '/console' });
  t.match(index.body, /<link rel="icon" href="\/console\/favicon\.svg"/, 'the console names it');
  const style = await app.inject({ method: 'GET', url: '/console/page.css' });
  t.equal(style.statusCode, 200);
  t.match(style.headers['content-type'], /^text\/css/);
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
