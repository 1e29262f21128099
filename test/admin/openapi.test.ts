import Fastify from 'fastify';
import t from 'tap';
import { adminRoutes } from '../../src/admin/index.js';
import type { Portier } from '../../src/portier.js';
import { build } from '../helpers.js';

// The OpenAPI document at /docs/json and the browsable UI at /docs. The list of admin
// operations is taken from src/admin/ itself (registered on a bare Fastify that
// records every route), so a route added there without reaching the document fails here.

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<string, { tags?: string[]; security?: unknown[]; responses?: Record<string, unknown>; requestBody?: unknown }>
  >;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
}

/** Every (method, OpenAPI path) src/admin/ registers under /admin, HEAD aside. */
async function adminOperations(): Promise<Array<{ method: string; path: string }>> {
  const app = Fastify({ logger: false });
  const operations: Array<{ method: string; path: string }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      operations.push({ method: method.toLowerCase(), path: route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}') });
    }
  });
  // The routes only read app.portier when a request comes; registering needs just its shape.
  app.decorate('portier', { db: {}, config: {} } as unknown as Portier);
  await app.register(adminRoutes, { prefix: '/admin' });
  await app.ready();
  await app.close();
  return operations;
}

/** The admin API docs/admin-api.md documents: a floor under what src/admin/ must offer. */
const DESIGNED = [
  'post /admin/clients',
  'get /admin/clients',
  'get /admin/clients/{client_id}',
  'patch /admin/clients/{client_id}',
  'delete /admin/clients/{client_id}',
  'post /admin/clients/{client_id}/disable',
  'post /admin/clients/{client_id}/enable',
  'post /admin/clients/bulk',
  'post /admin/clients/{client_id}/secret',
  'post /admin/services',
  'get /admin/services',
  'get /admin/services/{id}',
  'patch /admin/services/{id}',
  'delete /admin/services/{id}',
  'get /admin/keys',
  'post /admin/keys/rotate',
  'get /admin/audit-events',
  'get /admin/sessions',
  'delete /admin/sessions/{id}',
];

t.test('GET /docs/json: an OpenAPI 3 document listing every admin operation', async (t) => {
  const server = await build(t);
  const response = await server.app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^application\/json/);
  const doc = response.json() as OpenApiDocument;
  t.match(doc.openapi, /^3\.\d+\.\d+$/, 'OpenAPI 3');
  t.type(doc.info.title, 'string');
  t.type(doc.info.version, 'string');
  t.match(doc.components?.securitySchemes?.bearerAuth, { type: 'http', scheme: 'bearer' }, 'a bearer security scheme');
  t.match(
    doc.components?.securitySchemes?.consoleSession,
    { type: 'apiKey', in: 'cookie', name: 'portier_session' },
    "and a person's console session (a cookie; __Host-portier_session over https)",
  );

  const fromRoutes = await adminOperations();
  const registered = fromRoutes.map((operation) => `${operation.method} ${operation.path}`);
  t.ok(registered.length >= DESIGNED.length, `routes.ts registers ${registered.length} admin operations`);
  for (const operation of DESIGNED) t.ok(registered.includes(operation), `routes.ts has ${operation}`);

  const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
  for (const { method, path } of fromRoutes) {
    const operation = doc.paths[path]?.[method];
    t.ok(operation, `documented: ${method.toUpperCase()} ${path}`);
    if (operation === undefined) continue;
    t.ok(operation.tags !== undefined && operation.tags.length > 0, `${method.toUpperCase()} ${path}: tagged`);
    t.same(
      operation.security,
      [{ bearerAuth: [] }, { consoleSession: [] }],
      `${method.toUpperCase()} ${path}: needs the bearer token or a console session`,
    );
    t.ok(
      Object.keys(operation.responses ?? {}).some((status) => status.startsWith('2')),
      `${method.toUpperCase()} ${path}: a success response`,
    );
  }
  const documentedAdmin = documented.filter((operation) => operation.split(' ')[1]?.startsWith('/admin/'));
  t.same(documentedAdmin.sort(), [...registered].sort(), 'the admin operations documented are exactly those of routes.ts');

  // Request bodies are described from the validation schemas.
  const createClient = doc.paths['/admin/clients']?.post as
    | { requestBody?: { content?: Record<string, { schema?: { required?: string[] } }> } }
    | undefined;
  t.same(
    createClient?.requestBody?.content?.['application/json']?.schema?.required?.sort(),
    ['name'],
    'POST /admin/clients body: name required (owner too, of admins: the rule says so by name)',
  );
  const createService = doc.paths['/admin/services']?.post as
    | { requestBody?: { content?: Record<string, { schema?: { required?: string[] } }> } }
    | undefined;
  t.same(
    createService?.requestBody?.content?.['application/json']?.schema?.required?.sort(),
    ['audience', 'id', 'name'],
    'POST /admin/services body',
  );
  // Nothing that looks like a secret value in the document.
  t.notOk(/portier_cs_[A-Za-z0-9_-]{20,}/.test(response.body), 'no secret in the document');
});

t.test('GET /docs: the browsable UI', async (t) => {
  const server = await build(t);
  let response = await server.app.inject({ method: 'GET', url: '/docs' });
  let url = '/docs';
  for (let hops = 0; hops < 5 && response.statusCode >= 300 && response.statusCode < 400; hops += 1) {
    const location = String(response.headers.location ?? '');
    t.not(location, '', 'a redirect names its target');
    url = new URL(location, `http://localhost${url}`).pathname;
    response = await server.app.inject({ method: 'GET', url });
  }
  t.equal(response.statusCode, 200, `the UI answers (${url})`);
  t.match(response.headers['content-type'], /^text\/html/);
  t.match(response.body, /swagger-ui/i);

  // What the page loads is there too.
  const assets = [...response.body.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1] ?? '');
  t.ok(assets.length > 0, 'the page references its scripts and styles');
  for (const asset of assets) {
    const path = new URL(asset, `http://localhost${url}`).pathname;
    const loaded = await server.app.inject({ method: 'GET', url: path });
    t.equal(loaded.statusCode, 200, `${path} loads`);
  }
});
