import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import type { Problem } from '../../src/admin/problems.js';
import type { ServiceResource } from '../../src/schemas/services.js';
import { expectProblem } from '../expect.js';
import { basicAuth, buildWithAdmin, ISSUER, postToken } from '../helpers.js';

// /admin/services: the catalogue clients' grants choose from. Creation and its conflicts,
// validation, the built-in portier-admin service, the rules that keep grants pointing at
// something (a service or scope in use cannot go), and an audience change taking effect
// on the very next token request.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const EVENTS = {
  id: 'events',
  name: 'Events API',
  description: 'Happenings',
  audience: 'https://events.example',
  scopes: ['events:read', 'events:write'],
};

/** What the API answers for a service. */
type ServiceBody = ServiceResource;

function errorPaths(body: Problem): string[] {
  return (body.errors ?? []).map((error) => error.path);
}

async function createService(t: Test, server: Server, service: Record<string, unknown> = EVENTS): Promise<ServiceBody> {
  const response = await server.admin('POST', '/admin/services', service);
  t.equal(response.statusCode, 201, `service ${String(service.id)} created`);
  return response.json() as ServiceBody;
}

/** A client through the admin API; returns its id and secret. */
async function createClient(t: Test, server: Server, body: Record<string, unknown>): Promise<{ clientId: string; secret: string }> {
  const response = await server.admin('POST', '/admin/clients', { name: 'Client', owner: 'user-1', ...body });
  t.equal(response.statusCode, 201, 'client created');
  const created = response.json() as { client_id: string; client_secret: string };
  return { clientId: created.client_id, secret: created.client_secret };
}

function tokenRequest(server: Server, client: { clientId: string; secret: string }, form: Record<string, string> = {}) {
  return postToken(server.app, { grant_type: 'client_credentials', ...form }, { authorization: basicAuth(client.clientId, client.secret) });
}

t.test('create: 201 with the resource, then readable and listed', async (t) => {
  const server = await buildWithAdmin(t);
  const response = await server.admin('POST', '/admin/services', EVENTS);
  t.equal(response.statusCode, 201);
  t.match(response.headers['content-type'], /^application\/json/);
  const created = response.json() as ServiceBody;
  t.match(created, { ...EVENTS, built_in: false, managed: false });
  t.ok(!Number.isNaN(Date.parse(created.created_at)), 'created_at is a date');
  t.ok(!Number.isNaN(Date.parse(created.updated_at)), 'updated_at is a date');

  const got = await server.admin('GET', '/admin/services/events');
  t.equal(got.statusCode, 200);
  t.same(got.json(), created, 'GET returns what POST returned');

  const list = await server.admin('GET', '/admin/services');
  t.equal(list.statusCode, 200);
  const ids = (list.json() as { items: ServiceBody[] }).items.map((service) => service.id);
  t.ok(ids.includes('events'), 'listed');

  // Optional fields: description and scopes default to empty.
  const minimal = await server.admin('POST', '/admin/services', { id: 'minimal', name: 'Minimal', audience: 'urn:example:minimal' });
  t.equal(minimal.statusCode, 201);
  t.match(minimal.json(), { id: 'minimal', description: '', scopes: [], built_in: false });
});

t.test('conflicts: duplicate id and duplicate audience are 409', async (t) => {
  const server = await buildWithAdmin(t);
  await createService(t, server);

  const sameId = await server.admin('POST', '/admin/services', { ...EVENTS, audience: 'https://other.example' });
  expectProblem(t, sameId, 409, 'same id');

  const sameAudience = await server.admin('POST', '/admin/services', { ...EVENTS, id: 'events-2' });
  const body = expectProblem(t, sameAudience, 409, 'same audience');
  t.match(body.detail, /audience/);
  t.equal((await server.admin('GET', '/admin/services/events-2')).statusCode, 404, 'nothing was created');

  // The admin audience is taken by the built-in service.
  const adminAudience = await server.admin('POST', '/admin/services', { id: 'sneaky', name: 'Sneaky', audience: `${ISSUER}/admin` });
  expectProblem(t, adminAudience, 409, 'admin audience');

  // Changing another service's audience to a taken one is a conflict too.
  await createService(t, server, { id: 'billing', name: 'Billing', audience: 'https://billing.example' });
  const patch = await server.admin('PATCH', '/admin/services/billing', { audience: EVENTS.audience });
  expectProblem(t, patch, 409, 'patch to a taken audience');
  t.equal((await server.admin('GET', '/admin/services/billing')).json().audience, 'https://billing.example', 'unchanged');

  // Patching a service to its own current audience is not a conflict.
  const same = await server.admin('PATCH', '/admin/services/events', { audience: EVENTS.audience });
  t.equal(same.statusCode, 200, 'own audience again is fine');
});

t.test('validation: 400 naming the field', async (t) => {
  const server = await buildWithAdmin(t);
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['relative audience', { ...EVENTS, audience: '/events' }, '/audience'],
    ['host-relative audience', { ...EVENTS, audience: 'events.example/api' }, '/audience'],
    ['audience with a fragment', { ...EVENTS, audience: 'https://events.example/api#v1' }, '/audience'],
    ['scope with a space', { ...EVENTS, scopes: ['events read'] }, '/scopes/0'],
    ['scope with a double quote', { ...EVENTS, scopes: ['events:read', 'say"hi'] }, '/scopes/1'],
    ['scope with a backslash', { ...EVENTS, scopes: ['back\\slash'] }, '/scopes/0'],
    ['empty scope', { ...EVENTS, scopes: [''] }, '/scopes/0'],
    ['duplicate scope', { ...EVENTS, scopes: ['events:read', 'events:read'] }, '/scopes/1'],
    ['unknown field', { ...EVENTS, owner: 'me' }, '/owner'],
    ['bad id', { ...EVENTS, id: 'Events API' }, '/id'],
    ['missing audience', { id: 'events', name: 'Events' }, '/audience'],
  ];
  for (const [label, body, path] of cases) {
    const response = await server.admin('POST', '/admin/services', body);
    const problem = expectProblem(t, response, 400, label);
    t.ok(errorPaths(problem).includes(path), `${label}: names ${path} (got ${errorPaths(problem).join(', ')})`);
  }
  const list = (await server.admin('GET', '/admin/services')).json() as { items: ServiceBody[] };
  t.same(
    list.items.map((service) => service.id),
    ['portier-admin'],
    'nothing was created',
  );

  // The same rules on PATCH.
  await createService(t, server);
  const patches: Array<[string, Record<string, unknown>, string]> = [
    ['relative audience', { audience: 'events' }, '/audience'],
    ['fragment', { audience: 'https://events.example/#x' }, '/audience'],
    ['bad scope', { scopes: ['a"b'] }, '/scopes/0'],
    ['unknown field', { secret: 'x' }, '/secret'],
    ['id change', { id: 'other' }, '/id'],
  ];
  for (const [label, body, path] of patches) {
    const problem = expectProblem(t, await server.admin('PATCH', '/admin/services/events', body), 400, `PATCH ${label}`);
    t.ok(errorPaths(problem).includes(path), `PATCH ${label}: names ${path} (got ${errorPaths(problem).join(', ')})`);
  }
  expectProblem(t, await server.admin('PATCH', '/admin/services/events', {}), 400, 'empty PATCH');
  t.match((await server.admin('GET', '/admin/services/events')).json(), EVENTS, 'unchanged by the refused patches');
});

t.test('what operators may choose: self_service_roles and self_service_max_access_token_ttl, checked, audited', async (t) => {
  const server = await buildWithAdmin(t);
  const plain = await createService(t, server);
  t.match(plain, { self_service: false, self_service_roles: [], self_service_max_access_token_ttl: null }, 'nothing offered unless set');
  const offering = await createService(t, server, {
    id: 'orders',
    name: 'Orders',
    audience: 'https://orders.example',
    self_service: true,
    self_service_roles: ['reader', 'writer'],
    self_service_max_access_token_ttl: 600,
  });
  t.match(offering, { self_service_roles: ['reader', 'writer'], self_service_max_access_token_ttl: 600 });
  const changed = await server.admin('PATCH', '/admin/services/orders', {
    self_service_roles: ['reader'],
    self_service_max_access_token_ttl: null,
  });
  t.equal(changed.statusCode, 200);
  t.match(changed.json(), { self_service_roles: ['reader'], self_service_max_access_token_ttl: null });
  const events = (await server.admin('GET', '/admin/audit-events?action=service.updated')).json() as {
    items: Array<{ details: Record<string, unknown> }>;
  };
  t.match(events.items[0]?.details, {
    service: 'orders',
    changes: {
      self_service_roles: { from: ['reader', 'writer'], to: ['reader'] },
      self_service_max_access_token_ttl: { from: 600, to: null },
    },
  });

  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['a role with a space', { self_service_roles: ['billing admin'] }, '/self_service_roles/0'],
    ['a role twice', { self_service_roles: ['reader', 'reader'] }, '/self_service_roles'],
    ['a lifetime under a minute', { self_service_max_access_token_ttl: 59 }, '/self_service_max_access_token_ttl'],
    ['a lifetime over a day', { self_service_max_access_token_ttl: 86_401 }, '/self_service_max_access_token_ttl'],
  ];
  for (const [label, body, path] of invalid) {
    const problem = expectProblem(t, await server.admin('PATCH', '/admin/services/orders', body), 400, label);
    t.ok(errorPaths(problem).includes(path), `${label}: names ${path} (got ${errorPaths(problem).join(', ')})`);
  }
  for (const body of [{ self_service_roles: ['admin'] }, { self_service_max_access_token_ttl: 3600 }]) {
    const refused = await server.admin('PATCH', '/admin/services/portier-admin', body);
    expectProblem(t, refused, 409, `portier-admin offers operators nothing: ${Object.keys(body)[0]}`);
  }
  t.equal(
    (await server.admin('PATCH', '/admin/services/portier-admin', { self_service_roles: [], self_service_max_access_token_ttl: null }))
      .statusCode,
    200,
    'nothing offered, said again, is no change',
  );
});

t.test('portier-admin: listed, built in, cannot be deleted, audience and scopes fixed', async (t) => {
  const server = await buildWithAdmin(t);
  const list = (await server.admin('GET', '/admin/services')).json() as { items: ServiceBody[] };
  const builtIn = list.items.find((service) => service.id === 'portier-admin');
  t.ok(builtIn, 'listed');
  t.equal(builtIn?.built_in, true);
  t.equal(builtIn?.audience, `${ISSUER}/admin`);
  t.same([...(builtIn?.scopes ?? [])].sort(), ['admin:read', 'admin:write']);

  expectProblem(t, await server.admin('DELETE', '/admin/services/portier-admin'), 409, 'delete');
  expectProblem(
    t,
    await server.admin('PATCH', '/admin/services/portier-admin', { audience: 'https://elsewhere.example/admin' }),
    409,
    'audience',
  );
  expectProblem(
    t,
    await server.admin('PATCH', '/admin/services/portier-admin', { scopes: ['admin:read', 'admin:write', 'admin:extra'] }),
    409,
    'scopes',
  );
  expectProblem(t, await server.admin('PATCH', '/admin/services/portier-admin', { scopes: [] }), 409, 'scopes removed');

  const after = (await server.admin('GET', '/admin/services/portier-admin')).json() as ServiceBody;
  t.same(after, builtIn, 'unchanged');
  // And the admin API still works with the same token.
  t.equal((await server.admin('GET', '/admin/clients')).statusCode, 200, 'admin still works');
  t.ok((await server.tokenFor()).length > 0, 'admin tokens still issued');
});

t.test('delete: a service granted to clients is 409 naming them; an unused one is 204 then 404', async (t) => {
  const server = await buildWithAdmin(t);
  await createService(t, server);
  await createService(t, server, { id: 'unused', name: 'Unused', audience: 'urn:example:unused', scopes: ['x'] });
  await createClient(t, server, { client_id: 'zeta-client', grants: [{ service: 'events', scopes: ['events:read'] }] });
  await createClient(t, server, { client_id: 'alpha-client', grants: [{ service: 'events', scopes: [] }] });
  await createClient(t, server, { client_id: 'other-client', grants: [{ service: 'unused', scopes: [] }] });
  t.equal((await server.admin('DELETE', '/admin/clients/other-client')).statusCode, 204, 'the only user of "unused" goes');

  const refused = expectProblem(t, await server.admin('DELETE', '/admin/services/events'), 409, 'in use');
  t.same(refused.clients, ['alpha-client', 'zeta-client'], 'clients names every client granted it');
  t.match(refused.detail, /alpha-client/);
  t.match(refused.detail, /zeta-client/);
  t.equal((await server.admin('GET', '/admin/services/events')).statusCode, 200, 'still there');

  t.equal((await server.admin('DELETE', '/admin/services/unused')).statusCode, 204, 'unused: 204');
  t.equal((await server.admin('GET', '/admin/services/unused')).statusCode, 404, 'then GET 404');
  expectProblem(t, await server.admin('DELETE', '/admin/services/unused'), 404, 'DELETE again');
  expectProblem(t, await server.admin('PATCH', '/admin/services/unused', { name: 'x' }), 404, 'PATCH a deleted one');
  const ids = ((await server.admin('GET', '/admin/services')).json() as { items: ServiceBody[] }).items.map((s) => s.id);
  t.notOk(ids.includes('unused'), 'no longer listed');

  // Once no client is granted it, it can go.
  await server.admin('PATCH', '/admin/clients/alpha-client', { grants: [] });
  await server.admin('DELETE', '/admin/clients/zeta-client');
  t.equal((await server.admin('DELETE', '/admin/services/events')).statusCode, 204, 'deletable once unused');
});

t.test('scopes: removing one a client is granted is 409 naming the clients; an unused one is fine', async (t) => {
  const server = await buildWithAdmin(t);
  await createService(t, server, { ...EVENTS, scopes: ['events:read', 'events:write', 'events:admin'] });
  await createClient(t, server, { client_id: 'writer-b', grants: [{ service: 'events', scopes: ['events:write'] }] });
  await createClient(t, server, { client_id: 'writer-a', grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }] });
  const reader = await createClient(t, server, { client_id: 'reader', grants: [{ service: 'events', scopes: ['events:read'] }] });

  const refused = expectProblem(
    t,
    await server.admin('PATCH', '/admin/services/events', { scopes: ['events:read', 'events:admin'] }),
    409,
    'write in use',
  );
  t.same(refused.clients, ['writer-a', 'writer-b'], 'names exactly the clients granted the removed scope');
  t.match(refused.detail, /events:write/);
  t.match(refused.detail, /writer-a/);
  t.notMatch(refused.detail, /reader/);
  t.same((await server.admin('GET', '/admin/services/events')).json().scopes, ['events:read', 'events:write', 'events:admin'], 'unchanged');

  const fine = await server.admin('PATCH', '/admin/services/events', { scopes: ['events:read', 'events:write', 'events:export'] });
  t.equal(fine.statusCode, 200, 'removing events:admin (unused) and adding one is fine');
  t.same(fine.json().scopes, ['events:read', 'events:write', 'events:export']);

  // The clients' tokens are unaffected.
  const token = await tokenRequest(server, reader);
  t.equal(token.statusCode, 200);
  t.equal(token.json().scope, 'events:read');

  // Name and description change without touching grants.
  const renamed = await server.admin('PATCH', '/admin/services/events', { name: 'Events v2', description: '' });
  t.equal(renamed.statusCode, 200);
  t.match(renamed.json(), { name: 'Events v2', description: '', audience: EVENTS.audience });
});

t.test('an audience change is used by the very next token request', async (t) => {
  const server = await buildWithAdmin(t);
  await createService(t, server);
  await createService(t, server, { id: 'billing', name: 'Billing', audience: 'https://billing.example', scopes: ['billing:read'] });
  const client = await createClient(t, server, {
    grants: [
      { service: 'events', scopes: ['events:read'] },
      { service: 'billing', scopes: ['billing:read'] },
    ],
  });

  const before = await tokenRequest(server, client, { resource: EVENTS.audience });
  t.equal(before.statusCode, 200, 'old audience works before the change');
  t.equal(decodeJwt(before.json().access_token).aud, EVENTS.audience);

  const newAudience = 'https://events.example/v2';
  const patched = await server.admin('PATCH', '/admin/services/events', { audience: newAudience });
  t.equal(patched.statusCode, 200);
  t.equal(patched.json().audience, newAudience);

  const viaResource = await tokenRequest(server, client, { resource: newAudience });
  t.equal(viaResource.statusCode, 200, 'resource = new audience works');
  t.equal(decodeJwt(viaResource.json().access_token).aud, newAudience, 'the token carries the new audience');
  const viaAudience = await tokenRequest(server, client, { audience: newAudience });
  t.equal(viaAudience.statusCode, 200, 'audience = new audience works');

  const old = await tokenRequest(server, client, { resource: EVENTS.audience });
  t.equal(old.statusCode, 400, 'old audience refused');
  t.equal(old.json().error, 'invalid_target');

  // The old audience is free again for another service.
  const reuse = await server.admin('POST', '/admin/services', { id: 'legacy', name: 'Legacy', audience: EVENTS.audience });
  t.equal(reuse.statusCode, 201, 'the old audience can be reused');
});
