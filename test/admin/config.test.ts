import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { SignJWT } from 'jose';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { prefersYaml } from '../../src/admin/config.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { expectProblem } from '../expect.js';
import { ADMIN_ID, basicAuth, buildWithAdmin, eventually, postToken } from '../helpers.js';
import { platformKey } from '../platforms.js';

// /admin/config over HTTP: export as JSON or YAML, the JSON Schema, apply with a JSON or
// YAML body, dry run and prune as query parameters, who may do what, and the answers to
// bad documents. The rules themselves are tested in test/config-as-code/.

const YAML_DOCUMENT = `
# A client granting a service defined below it.
clients:
  - client_id: eaglebe-events
    name: API Eaglebe
    owner: user-42
    grants:
      - service: openhappening
        scopes: [events:read]
services:
  - id: openhappening
    name: OpenHappening
    audience: https://openhappening.example
    scopes: [events:read, events:write]
`;

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

function post(server: Server, url: string, body: string, contentType: string, token = server.token) {
  return server.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
    payload: body,
  });
}

t.test('apply YAML, then export it as YAML and JSON; the secret works and is shown once', async (t) => {
  const server = await buildWithAdmin(t);
  const dry = await post(server, '/admin/config/apply?dry_run=true', YAML_DOCUMENT, 'application/yaml');
  t.equal(dry.statusCode, 200);
  t.same(dry.json(), {
    applied: false,
    changes: [
      { op: 'create', kind: 'service', id: 'openhappening', fields: ['name', 'audience', 'scopes'] },
      { op: 'create', kind: 'client', id: 'eaglebe-events', fields: ['name', 'owner', 'grants'] },
    ],
    secrets: {},
  });
  t.equal((await server.admin('GET', '/admin/services/openhappening')).statusCode, 404, 'a dry run changes nothing');

  const applied = await post(server, '/admin/config/apply?dry_run=false', YAML_DOCUMENT, 'application/yaml; charset=utf-8');
  t.equal(applied.statusCode, 200);
  const result = applied.json() as { applied: boolean; secrets: Record<string, string> };
  t.equal(result.applied, true);
  const secret = result.secrets['eaglebe-events'] ?? '';
  const token = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth('eaglebe-events', secret) });
  t.equal(token.statusCode, 200, 'the new client gets a token at once');

  const client = (await server.admin('GET', '/admin/clients/eaglebe-events')).json();
  t.equal(client.managed, true, 'the API shows the managed mark');
  t.equal((await server.admin('GET', '/admin/services/openhappening')).json().managed, true);
  t.equal((await server.admin('GET', `/admin/clients/${ADMIN_ID}`)).json().managed, false, 'the bootstrap admin is not managed');

  const yaml = await server.app.inject({
    method: 'GET',
    url: '/admin/config',
    headers: { authorization: `Bearer ${server.token}`, accept: 'application/yaml' },
  });
  t.equal(yaml.statusCode, 200);
  t.match(yaml.headers['content-type'], /^application\/yaml/);
  const json = await server.admin('GET', '/admin/config');
  t.match(json.headers['content-type'], /^application\/json/);
  t.same(parseYaml(yaml.body), json.json(), 'the YAML and the JSON export say the same');
  const exported = json.json() as { services: Array<{ id: string }>; clients: Array<Record<string, unknown>> };
  t.same(
    exported.services.map((service) => service.id),
    ['openhappening'],
    'portier-admin is built in, not exported',
  );
  t.match(
    exported.clients.find((entry) => entry.client_id === 'eaglebe-events'),
    {
      owner: 'user-42',
      grants: [{ service: 'openhappening', scopes: ['events:read'] }],
    },
  );
  for (const body of [yaml.body, json.body]) {
    t.notMatch(body, secret, 'the export never shows a secret');
    t.notMatch(body, /portier_cs_|"?managed"?:|created_at|status/, 'nor read-only fields');
  }

  const again = await server.admin('POST', '/admin/config/apply', json.json());
  t.same(again.json(), { applied: true, changes: [], secrets: {} }, 'the export applied again changes nothing');
});

t.test('configuration as code is an admin tool: what services offer operators, and any field on an operator’s client', async (t) => {
  const server = await buildWithAdmin(t);
  const document = {
    services: [
      {
        id: 'orders',
        name: 'Orders',
        audience: 'https://orders.example',
        scopes: ['orders:read'],
        self_service: true,
        self_service_roles: ['reader'],
        self_service_max_access_token_ttl: 600,
      },
    ],
    clients: [
      {
        client_id: 'alice-feed',
        name: 'Alice’s feed',
        owner: 'alice@example.com',
        grants: [{ service: 'orders', scopes: ['orders:read'] }],
        roles: ['billing-admin'],
        claims: { tenant: 'acme' },
        access_token_ttl: 86_400,
        token_quota: { per_hour: 10 },
      },
    ],
  };
  const applied = await server.admin('POST', '/admin/config/apply', document);
  t.equal(applied.statusCode, 200, 'roles, claims and a lifetime beyond what orders offers operators: an admin sets them');
  const exported = (await server.admin('GET', '/admin/config')).json() as { services: unknown[]; clients: unknown[] };
  t.match(exported.services, [{ id: 'orders', self_service_roles: ['reader'], self_service_max_access_token_ttl: 600 }], 'exported');
  t.match(exported.clients, [{ client_id: 'alice-feed', roles: ['billing-admin'], access_token_ttl: 86_400 }]);
  t.same((await server.admin('POST', '/admin/config/apply', exported)).json(), { applied: true, changes: [], secrets: {} }, 'a round trip');
  const changed = await server.admin('POST', '/admin/config/apply?dry_run=true', {
    ...document,
    services: [{ ...document.services[0], self_service_roles: ['reader', 'writer'] }],
  });
  t.match(changed.json(), { changes: [{ op: 'update', kind: 'service', id: 'orders', fields: ['self_service_roles'] }] });
});

t.test('the JSON Schema validates what the export gives, and refuses what the apply refuses', async (t) => {
  const server = await buildWithAdmin(t);
  await post(server, '/admin/config/apply', YAML_DOCUMENT, 'application/yaml');
  const key = await platformKey('ES256');
  const issuer = await server.admin('POST', '/admin/trusted-issuers', {
    id: 'ci-platform',
    issuer: 'https://ci.example',
    jwks: { keys: [key.publicJwk] },
  });
  t.equal(issuer.statusCode, 201);
  const schemaResponse = await server.admin('GET', '/admin/config/schema');
  t.equal(schemaResponse.statusCode, 200);
  const schema = schemaResponse.json() as Record<string, unknown>;
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  // An editor's validator: its own Ajv, strict as editors are.
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats.default(ajv);
  const validate = ajv.compile(schema);
  const exported = (await server.admin('GET', '/admin/config')).json();
  t.ok(validate(exported), `the export is valid: ${JSON.stringify(validate.errors)}`);
  t.notOk(validate({ clients: [{ client_id: 'x1', name: 'n', owner: 'o', secret: 's' }] }), 'an unknown field is not');
  t.notOk(validate({ services: [{ id: 'svc', name: 'n' }] }), 'a missing audience is not');
  t.equal(exported.trusted_issuers.length, 1, 'the export has the trusted issuer');
  t.notOk(validate({ trusted_issuers: [{ id: 'ci-1', issuer: 'http://ci.example' }] }), 'an issuer that is not https is not');
  t.notOk(validate({ trusted_issuers: [{ id: 'ci-1', issuer: 'https://ci.example', managed: true }] }), 'nor a read-only field');
  const readOnly = await server.tokenFor('admin:read');
  t.equal((await server.admin('GET', '/admin/config/schema', undefined, readOnly)).statusCode, 200, 'admin:read may read it');
});

t.test('who may: export with admin:read, apply with admin:write only, nothing without a token', async (t) => {
  const server = await buildWithAdmin(t);
  const readOnly = await server.tokenFor('admin:read');
  t.equal((await server.admin('GET', '/admin/config', undefined, readOnly)).statusCode, 200);
  for (const url of ['/admin/config/apply', '/admin/config/apply?dry_run=true']) {
    const refused = await post(server, url, YAML_DOCUMENT, 'application/yaml', readOnly);
    expectProblem(t, refused, 403, `${url} with admin:read`);
  }
  const anonymous = await server.app.inject({ method: 'GET', url: '/admin/config' });
  expectProblem(t, anonymous, 401, 'no token');
  const anonymousApply = await server.app.inject({
    method: 'POST',
    url: '/admin/config/apply',
    headers: { 'content-type': 'application/yaml' },
    payload: YAML_DOCUMENT,
  });
  expectProblem(t, anonymousApply, 401, 'apply without a token');
  t.equal((await server.admin('GET', '/admin/services/openhappening')).statusCode, 404, 'nothing was applied');
});

t.test('bad documents: 400 naming the place, nothing applied', async (t) => {
  const server = await buildWithAdmin(t);
  const cases: Array<[string, string, string[]]> = [
    ['application/yaml', 'services: [\n  - id: x\n', ['document']],
    ['application/yaml', 'clients:\n  - client_id: a1\n    client_id: a2\n', ['document']],
    ['application/yaml', '', ['document']],
    ['application/yaml', 'services:\n  - id: svc\n    name: S\n    audience: https://s.example\n    colour: red\n', ['services[0].colour']],
    [
      'application/json',
      JSON.stringify({ clients: [{ client_id: 'c-1', name: 'C', owner: 'o', grants: [{ service: 'nowhere', scopes: [] }] }] }),
      ['clients[0].grants[0].service'],
    ],
    [
      'application/json',
      JSON.stringify({
        clients: [
          { client_id: 'c-1', name: 'C', owner: 'o' },
          { client_id: 'c-1', name: 'D', owner: 'o' },
        ],
      }),
      ['clients[1].client_id'],
    ],
  ];
  for (const [contentType, body, places] of cases) {
    const response = await post(server, '/admin/config/apply', body, contentType);
    const problem = expectProblem(t, response, 400, body.slice(0, 40));
    t.same(
      problem.errors?.map((error) => error.path),
      places,
      'the errors name their place',
    );
    t.match(problem.detail, /^nothing was applied: /);
  }
  const unknown = await post(
    server,
    '/admin/config/apply',
    JSON.stringify({ clients: [{ client_id: 'c-1', name: 'C', owner: 'o', grants: [{ service: 'nowhere', scopes: [] }] }] }),
    'application/json',
  );
  t.equal(unknown.json().errors[0].message, 'unknown service "nowhere"');
  t.equal((await server.admin('GET', '/admin/clients/c-1')).statusCode, 404, 'nothing was applied');

  expectProblem(t, await post(server, '/admin/config/apply', 'services: []', 'text/plain'), 415, 'an unknown content type');
  expectProblem(t, await post(server, '/admin/config/apply', '{"services": [', 'application/json'), 400, 'bad JSON');
  expectProblem(t, await post(server, '/admin/config/apply?prune=maybe', '{}', 'application/json'), 400, 'a bad query value');
  const huge = `services:\n${'  - {id: svc, name: S, audience: "https://s.example"}\n'.repeat(90_000)}`;
  expectProblem(t, await post(server, '/admin/config/apply', huge, 'application/yaml'), 413, 'over 4 MiB');
  const bomb = 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n';
  expectProblem(t, await post(server, '/admin/config/apply', bomb, 'application/yaml'), 400, 'an alias bomb');
  expectProblem(t, await post(server, '/admin/config/apply', `${'['.repeat(50_000)}`, 'application/yaml'), 400, 'deep nesting');
  // The YAML parser is this route's only: the other admin routes still take JSON alone.
  const yamlClient = await post(server, '/admin/clients', 'name: X\nowner: o\n', 'application/yaml');
  expectProblem(t, yamlClient, 415, 'YAML elsewhere');
});

t.test('prune over HTTP deletes only what an apply made', async (t) => {
  const server = await buildWithAdmin(t);
  await post(server, '/admin/config/apply', YAML_DOCUMENT, 'application/yaml');
  const manual = await server.admin('POST', '/admin/clients', { client_id: 'manual', name: 'M', owner: 'o' });
  t.equal(manual.statusCode, 201);
  const keepService = { services: [{ id: 'openhappening', name: 'OpenHappening', audience: 'https://openhappening.example' }] };
  const pruned = await server.admin('POST', '/admin/config/apply?prune=true', keepService);
  t.same(pruned.json().changes, [{ op: 'delete', kind: 'client', id: 'eaglebe-events', fields: [] }]);
  t.equal((await server.admin('GET', '/admin/clients/manual')).statusCode, 200, 'the client made through the API stays');
  t.equal((await server.admin('GET', `/admin/clients/${ADMIN_ID}`)).statusCode, 200, 'and the admin');
  const audit = await server.admin('GET', '/admin/audit-events?client_id=eaglebe-events');
  t.same(
    audit.json().items.map((event: { action: string; actor: { client_id: string } }) => [event.action, event.actor.client_id]),
    [
      ['client.deleted', ADMIN_ID],
      ['client.created', ADMIN_ID],
    ],
    'audited with the admin who applied',
  );
});

t.test('Accept: YAML when it ranks above JSON', async (t) => {
  t.equal(prefersYaml(undefined), false);
  t.equal(prefersYaml('*/*'), false);
  t.equal(prefersYaml('application/yaml'), true);
  t.equal(prefersYaml('text/yaml, application/json'), true, 'the first listed wins a tie');
  t.equal(prefersYaml('application/json, application/yaml'), false);
  t.equal(prefersYaml('application/json;q=0.5, application/x-yaml'), true);
  t.equal(prefersYaml('application/yaml;q=0'), false, 'q=0 is "not this"');
});

t.test('trusted issuers: a federated client signs in through what an apply made; round trip, error and prune', async (t) => {
  const server = await buildWithAdmin(t);
  const key = await platformKey('ES256', 'ci-key');
  // The client comes first and names the issuer defined after it.
  const document = `
clients:
  - client_id: deployer
    name: Deployer
    owner: platform-team
    auth_method: federated
    federated_identities:
      - issuer: ci-platform
        subject: repo:example/app:ref:refs/heads/main
    grants: [{service: deployments, scopes: []}]
services:
  - id: deployments
    name: Deployments
    audience: https://deployments.example
trusted_issuers:
  - id: ci-platform
    issuer: https://ci.example
    jwks: ${JSON.stringify({ keys: [key.publicJwk] })}
    algorithms: [ES256]
`;
  const applied = await post(server, '/admin/config/apply', document, 'application/yaml');
  t.equal(applied.statusCode, 200, applied.body);
  t.same(applied.json(), {
    applied: true,
    changes: [
      { op: 'create', kind: 'service', id: 'deployments', fields: ['name', 'audience'] },
      { op: 'create', kind: 'trusted_issuer', id: 'ci-platform', fields: ['issuer', 'jwks', 'algorithms'] },
      { op: 'create', kind: 'client', id: 'deployer', fields: ['name', 'owner', 'auth_method', 'federated_identities', 'grants'] },
    ],
    secrets: {},
  });
  t.equal((await server.admin('GET', '/admin/trusted-issuers/ci-platform')).json().managed, true, 'the API shows the managed mark');
  const manual = await server.admin('POST', '/admin/trusted-issuers', { id: 'by-hand', issuer: 'https://hand.example' });
  t.equal(manual.json().managed, false, 'one made through the API is not managed');

  const now = Math.floor(server.app.portier.clock() / 1000);
  const assertion = await new SignJWT({ sub: 'repo:example/app:ref:refs/heads/main', aud: [server.config.issuer] })
    .setProtectedHeader({ alg: 'ES256', kid: 'ci-key' })
    .setIssuer('https://ci.example')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(key.privateKey);
  const token = await postToken(server.app, {
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  });
  t.equal(token.statusCode, 200, `the workload gets a token at once: ${token.body}`);

  const exported = (await server.admin('GET', '/admin/config')).json() as Record<string, Array<Record<string, unknown>>>;
  t.same(
    exported.trusted_issuers?.map((issuer) => issuer.id),
    ['by-hand', 'ci-platform'],
  );
  t.notMatch(JSON.stringify(exported.trusted_issuers), /managed|created_at|updated_at/, 'no read-only fields');
  const fresh = await buildWithAdmin(t);
  const copied = await fresh.admin('POST', '/admin/config/apply', exported);
  t.equal(copied.statusCode, 200, copied.body);
  t.same((await fresh.admin('GET', '/admin/config')).json(), exported, 'the fresh instance exports the same');
  t.same((await fresh.admin('POST', '/admin/config/apply', exported)).json().changes, [], 'and applying it again changes nothing');

  const lost = await server.admin('POST', '/admin/config/apply', {
    clients: [
      { client_id: 'lost', name: 'L', owner: 'o', auth_method: 'federated', federated_identities: [{ issuer: 'nowhere', subject: 's' }] },
    ],
  });
  const problem = expectProblem(t, lost, 400, 'an identity of an unknown issuer');
  t.same(problem.errors, [{ path: 'clients[0].federated_identities[0].issuer', message: 'unknown trusted issuer "nowhere"' }]);

  const pruned = await server.admin('POST', '/admin/config/apply?prune=true', {});
  t.same(pruned.json().changes, [
    { op: 'delete', kind: 'client', id: 'deployer', fields: [] },
    { op: 'delete', kind: 'trusted_issuer', id: 'ci-platform', fields: [] },
    { op: 'delete', kind: 'service', id: 'deployments', fields: [] },
  ]);
  t.equal((await server.admin('GET', '/admin/trusted-issuers/by-hand')).statusCode, 200, 'the one made through the API stays');
  const audit = await server.admin('GET', '/admin/audit-events?action=trusted_issuer.deleted');
  t.same(
    audit.json().items.map((event: { actor: { client_id: string } }) => event.actor.client_id),
    [ADMIN_ID],
    'audited with the admin who applied',
  );
});

/** A document of `count` new clients of one service (created with secrets). */
function manyClients(count: number, prefix: string): string {
  return JSON.stringify({
    services: [{ id: 'bulk', name: 'Bulk', audience: 'https://bulk.example', scopes: ['bulk:read'] }],
    clients: Array.from({ length: count }, (_, i) => ({
      client_id: `${prefix}-${i}`,
      name: `Bulk ${i}`,
      owner: 'ops@example.com',
      grants: [{ service: 'bulk', scopes: ['bulk:read'] }],
    })),
  });
}

t.test("an apply that runs longer than the server's idle timeout still gets its answer", async (t) => {
  const server = await buildWithAdmin(t);
  // The server's idle timeout (30 s in production) made short, so that a small apply outlasts it.
  server.app.server.setTimeout(300);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as { port: number };
  const started = Date.now();
  const response = await fetch(`http://127.0.0.1:${port}/admin/config/apply`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: manyClients(40, 'slow'),
  });
  const elapsed = Date.now() - started;
  t.equal(response.status, 200, `answered after ${elapsed} ms`);
  const result = (await response.json()) as { applied: boolean; secrets: Record<string, string> };
  t.equal(result.applied, true);
  t.equal(Object.keys(result.secrets).length, 40, 'with every secret');
  if (elapsed < 300) t.comment('the apply was faster than the shortened timeout: this run did not exercise it');
});

t.test('a caller that disconnects before the commit: the apply rolls back, and nothing is created', async (t) => {
  const server = await buildWithAdmin(t);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.app.server.address() as { port: number };
  const { request } = await import('node:http');
  const body = manyClients(200, 'gone');
  await new Promise<void>((resolve) => {
    const outgoing = request(`http://127.0.0.1:${port}/admin/config/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    outgoing.on('error', () => resolve());
    outgoing.end(body);
    // Gone while the apply runs (200 secrets to hash take longer than this).
    setTimeout(() => outgoing.destroy(), 150);
  });
  // The apply notices at its next step, rolls back and lets go of the lock: a dry run
  // then gets through, and finds every client still to create.
  const dry = await eventually(
    () => post(server, '/admin/config/apply?dry_run=true', manyClients(1, 'gone'), 'application/json'),
    (response) => response.statusCode === 200,
    10_000,
  );
  t.equal(dry.statusCode, 200);
  const listed = await server.admin('GET', '/admin/clients?name=Bulk');
  t.same(listed.json().items, [], 'no client of the abandoned apply exists');
  const audit = await server.admin('GET', '/admin/audit-events?action=config.applied');
  t.same(audit.json().items ?? [], [], 'and no apply was recorded');
});
