import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.js';
import type { Person } from '../../src/people/person.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { addService, basicAuth, buildWithAdmin, ISSUER, postToken } from '../helpers.js';

/**
 * What each role reaches through the admin API with a console session: operators their
 * own clients only (another's is a 404, for reads and every change), self-service
 * services only, their clients' audit events, never keys or sessions; auditors read
 * everything and change nothing; admins everything, the owner of a client included.
 * Sessions are started with the session store itself (the sign-in through a provider is
 * test/people/sign-in.test.ts), on a Portier whose provider is never asked.
 */

const IDP = 'https://sso.example';
const person = (sub: string, name: string, owner: string, role: Person['role']): Person => ({
  subject: `${IDP}#${sub}`,
  name,
  owner,
  role,
});
const ALICE = person('alice', 'Alice Operator', 'alice@example.com', 'operator');
const BOB = person('bob', 'Bob Operator', 'bob@example.com', 'operator');
const OTTO = person('otto', 'Otto Auditor', 'otto@example.com', 'auditor');
const ADA = person('ada', 'Ada Admin', 'ada@example.com', 'admin');

async function setUp(t: Test) {
  const loaded = loadConfig({
    ISSUER,
    // Never reached: these tests start sessions themselves.
    OIDC_ISSUER: 'http://127.0.0.1:9',
    OIDC_CLIENT_ID: 'portier',
    OIDC_CLIENT_SECRET: 'secret',
  });
  const server = await buildWithAdmin(t, { config: { oidc: loaded.oidc, console: loaded.console } });
  const people = server.app.portier.people;
  if (people === undefined) throw new Error('no people');
  await addService(server.database, { id: 'orders', audience: 'https://orders.example', scopes: ['orders:read', 'orders:write'] });
  await addService(server.database, { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read', 'billing:write'] });
  t.equal(
    (await server.admin('PATCH', '/admin/services/orders', { self_service: true })).statusCode,
    200,
    'orders is open to self-service',
  );

  /** inject() as a person signed in, with Portier's Origin on changes (as the console sends it). */
  const as = async (who: Person) => {
    const { cookie } = await people.sessions.start(who, { idToken: null, ip: '127.0.0.1' }, server.clock.now());
    return (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
      server.app.inject({
        method,
        url,
        headers: {
          cookie: `portier_session=${cookie}`,
          ...(method === 'GET' ? {} : { origin: ISSUER }),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
  };
  const byAdmin = async (clientId: string, owner: string, grants: unknown[] = [{ service: 'orders', scopes: ['orders:read'] }]) => {
    const response = await server.admin('POST', '/admin/clients', { client_id: clientId, name: `Client ${clientId}`, owner, grants });
    t.equal(response.statusCode, 201, `the admin created ${clientId}`);
  };
  await byAdmin('alice-one', ALICE.owner);
  await byAdmin('alice-billing', ALICE.owner, [{ service: 'billing', scopes: ['billing:read'] }]);
  await byAdmin('bob-one', BOB.owner);
  return { ...server, as, byAdmin };
}

const ids = (response: { json(): unknown }) =>
  (response.json() as { items: Array<{ client_id: string }> }).items.map((item) => item.client_id);

t.test('operators: only their own clients, and another’s answers 404 to everything', async (t) => {
  const server = await setUp(t);
  const alice = await server.as(ALICE);

  t.same(ids(await alice('GET', '/admin/clients')), ['alice-billing', 'alice-one'], 'the list holds their clients only');
  t.same(ids(await alice('GET', '/admin/clients?owner=bob%40example.com')), [], 'an owner filter narrows, never widens');
  t.same(ids(await alice('GET', '/admin/clients?owner=alice%40example.com&service=billing')), ['alice-billing'], 'filters still work');

  const missing = await alice('GET', '/admin/clients/no-such-client');
  const other = await alice('GET', '/admin/clients/bob-one');
  expectProblem(t, other, 404, 'read another’s client');
  t.equal(
    other.json().detail,
    missing.json().detail.replace('no-such-client', 'bob-one'),
    'answered exactly as a client that does not exist',
  );
  const changes: Array<[string, 'POST' | 'PATCH' | 'DELETE', string, unknown]> = [
    ['edit', 'PATCH', '/admin/clients/bob-one', { name: 'Mine now' }],
    ['edit with bad grants', 'PATCH', '/admin/clients/bob-one', { grants: [{ service: 'nope', scopes: [] }] }],
    ['disable', 'POST', '/admin/clients/bob-one/disable', undefined],
    ['enable', 'POST', '/admin/clients/bob-one/enable', undefined],
    ['new secret', 'POST', '/admin/clients/bob-one/secret', undefined],
    ['delete', 'DELETE', '/admin/clients/bob-one', undefined],
  ];
  for (const [what, method, url, payload] of changes) expectProblem(t, await alice(method, url, payload), 404, `${what} another’s client`);
  const bulk = await alice('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['alice-one', 'bob-one'] });
  t.match(bulk.json().results, [
    { client_id: 'alice-one', ok: true, status: 'disabled' },
    { client_id: 'bob-one', ok: false, error: 'no client with client_id "bob-one"' },
  ]);
  t.match(
    (await server.admin('GET', '/admin/clients/bob-one')).json(),
    { name: 'Client bob-one', enabled: true },
    'Bob’s client is untouched',
  );

  // Their own: every change works.
  t.equal((await alice('POST', '/admin/clients/alice-one/enable')).statusCode, 200);
  t.equal((await alice('PATCH', '/admin/clients/alice-one', { description: 'mine' })).statusCode, 200);
  t.match((await alice('POST', '/admin/clients/alice-one/secret')).json(), { client_secret: /^portier_cred_/ });
  t.equal((await alice('DELETE', '/admin/clients/alice-one')).statusCode, 204);
});

t.test('operators create clients for themselves, granting self-service services only', async (t) => {
  const server = await setUp(t);
  const alice = await server.as(ALICE);
  const created = await alice('POST', '/admin/clients', {
    client_id: 'alice-new',
    name: 'New',
    grants: [{ service: 'orders', scopes: ['orders:write'] }],
  });
  t.equal(created.statusCode, 201, 'owner left out: theirs');
  t.match(created.json(), {
    owner: 'alice@example.com',
    created_by: `${IDP}#alice`,
    created_by_name: 'Alice Operator',
    client_secret: /^portier_cred_/,
  });
  t.equal((await alice('POST', '/admin/clients', { client_id: 'alice-named', name: 'Named', owner: 'alice@example.com' })).statusCode, 201);

  const forBob = await alice('POST', '/admin/clients', { client_id: 'for-bob', name: 'For Bob', owner: 'bob@example.com' });
  expectProblem(t, forBob, 403, 'naming another owner');
  t.match(forBob.json(), { detail: /someone else's/, errors: [{ path: '/owner' }] }, 'naming the field');
  for (const [what, grants] of [
    ['a service not open to self-service', [{ service: 'billing', scopes: ['billing:read'] }]],
    ['the admin service', [{ service: 'portier-admin', scopes: ['admin:write'] }]],
  ] as const) {
    const refused = await alice('POST', '/admin/clients', { client_id: 'refused', name: 'Refused', grants });
    expectInvalid(t, refused, ['/grants/0/service'], what);
    t.match(refused.json().errors[0].message, /unknown service/, `${what}: as if there were no such service`);
  }
  t.equal((await server.admin('GET', '/admin/clients/for-bob')).statusCode, 404, 'nothing was created');
  t.equal((await server.admin('GET', '/admin/clients/refused')).statusCode, 404);

  // A grant an admin gave may be kept or narrowed, never widened; self-service ones added freely.
  const keep = await alice('PATCH', '/admin/clients/alice-billing', {
    grants: [
      { service: 'billing', scopes: ['billing:read'] },
      { service: 'orders', scopes: ['orders:read'] },
    ],
  });
  t.equal(keep.statusCode, 200, 'keeping an admin’s grant and adding a self-service one');
  const widen = await alice('PATCH', '/admin/clients/alice-billing', {
    grants: [{ service: 'billing', scopes: ['billing:read', 'billing:write'] }],
  });
  expectInvalid(t, widen, ['/grants/0/service'], 'widening an admin’s grant');
  t.equal((await alice('PATCH', '/admin/clients/alice-billing', { grants: [] })).statusCode, 200, 'dropping it');
  expectInvalid(
    t,
    await alice('PATCH', '/admin/clients/alice-billing', { grants: [{ service: 'billing', scopes: ['billing:read'] }] }),
    ['/grants/0/service'],
    'and it cannot come back',
  );

  const owner = await alice('PATCH', '/admin/clients/alice-new', { owner: 'bob@example.com' });
  expectProblem(t, owner, 403, 'changing the owner');
  t.match(owner.json().detail, /only an admin/);
  t.equal(
    (await alice('PATCH', '/admin/clients/alice-new', { owner: 'alice@example.com' })).statusCode,
    200,
    'naming their own is no change',
  );
});

t.test('operators: self-service services, their clients’ audit events; no keys, service changes or sessions', async (t) => {
  const server = await setUp(t);
  const alice = await server.as(ALICE);
  const services = (await alice('GET', '/admin/services')).json().items as Array<{ id: string; self_service: boolean }>;
  t.same(
    services.map((service) => service.id),
    ['orders'],
    'only the self-service services (never portier-admin)',
  );
  expectProblem(t, await alice('GET', '/admin/services/billing'), 404, 'another service: as if it did not exist');
  t.equal((await alice('GET', '/admin/services/orders')).statusCode, 200);
  for (const [what, method, url, payload] of [
    ['create a service', 'POST', '/admin/services', { id: 'mine', name: 'Mine', audience: 'https://mine.example' }],
    ['change a service', 'PATCH', '/admin/services/orders', { name: 'Renamed' }],
    ['delete a service', 'DELETE', '/admin/services/orders', undefined],
    ['read the keys', 'GET', '/admin/keys', undefined],
    ['rotate the keys', 'POST', '/admin/keys/rotate', undefined],
    ['list sessions', 'GET', '/admin/sessions', undefined],
  ] as const) {
    expectProblem(t, await alice(method, url, payload), 403, what);
  }

  await alice('POST', '/admin/clients/alice-one/disable');
  // A client_id Bob used and deleted, taken again by Alice: Bob's history stays his.
  await server.byAdmin('reused-id', BOB.owner);
  t.equal((await server.admin('DELETE', '/admin/clients/reused-id')).statusCode, 204);
  t.equal((await alice('POST', '/admin/clients', { client_id: 'reused-id', name: 'Mine now' })).statusCode, 201);

  const events = (await alice('GET', '/admin/audit-events?limit=200')).json().items as Array<{
    action: string;
    client_id: string | null;
    actor: Record<string, unknown>;
  }>;
  t.same(
    [...new Set(events.map((event) => event.client_id))].sort(),
    ['alice-billing', 'alice-one', 'reused-id'],
    'only events about their clients',
  );
  t.same(
    events.filter((event) => event.client_id === 'reused-id').map((event) => event.action),
    ['client.created'],
    'of a client_id taken again, only what happened since it became theirs',
  );
  t.match(
    events.find((event) => event.action === 'client.disabled')?.actor,
    { client_id: null, sub: `${IDP}#alice`, name: 'Alice Operator', ip: '127.0.0.1' },
    'the audit trail names the person',
  );
  const everything = (await server.admin('GET', '/admin/audit-events?limit=200')).json().items as Array<{ client_id: string | null }>;
  t.ok(
    everything.some((event) => event.client_id === 'bob-one'),
    'an admin still sees everything',
  );
});

t.test('auditors read everything and change nothing', async (t) => {
  const server = await setUp(t);
  const otto = await server.as(OTTO);
  t.same(ids(await otto('GET', '/admin/clients')), ['alice-billing', 'alice-one', 'bob-one', 'root-admin'], 'every client');
  t.same(
    ((await otto('GET', '/admin/services')).json().items as Array<{ id: string }>).map((service) => service.id),
    ['billing', 'orders', 'portier-admin'],
    'every service',
  );
  for (const url of ['/admin/keys', '/admin/audit-events', '/admin/clients/bob-one', '/admin/services/billing']) {
    t.equal((await otto('GET', url)).statusCode, 200, `GET ${url}`);
  }
  for (const [what, method, url, payload] of [
    ['create a client', 'POST', '/admin/clients', { client_id: 'otto-app', name: 'Otto', owner: 'otto@example.com' }],
    ['edit a client', 'PATCH', '/admin/clients/bob-one', { name: 'x' }],
    ['disable a client', 'POST', '/admin/clients/bob-one/disable', undefined],
    ['delete a client', 'DELETE', '/admin/clients/bob-one', undefined],
    ['create a service', 'POST', '/admin/services', { id: 'mine', name: 'Mine', audience: 'https://mine.example' }],
    ['rotate the keys', 'POST', '/admin/keys/rotate', undefined],
  ] as const) {
    const refused = await otto(method, url, payload);
    expectProblem(t, refused, 403, what);
    t.match(refused.json().detail, /change nothing/);
  }
  t.match((await server.admin('GET', '/admin/clients/bob-one')).json(), { name: 'Client bob-one', enabled: true }, 'nothing changed');
});

t.test('admins: everything; the owner of a client changes by an admin only, audited', async (t) => {
  const server = await setUp(t);
  const ada = await server.as(ADA);
  const alice = await server.as(ALICE);
  t.same(ids(await ada('GET', '/admin/clients')), ['alice-billing', 'alice-one', 'bob-one', 'root-admin']);
  t.equal((await ada('GET', '/admin/keys')).statusCode, 200);
  const forBob = await ada('POST', '/admin/clients', { client_id: 'for-bob', name: 'For Bob', owner: 'bob@example.com' });
  t.equal(forBob.statusCode, 201, 'an admin creates a client for someone');
  t.match(forBob.json(), { owner: 'bob@example.com', created_by: `${IDP}#ada`, created_by_name: 'Ada Admin' });

  const moved = await ada('PATCH', '/admin/clients/alice-one', { owner: 'carol@example.com' });
  t.equal(moved.statusCode, 200, 'an admin passes a client on');
  t.equal(moved.json().owner, 'carol@example.com');
  const events = (await ada('GET', '/admin/audit-events?client_id=alice-one&action=client.updated')).json().items;
  t.match(
    events,
    [{ actor: { name: 'Ada Admin' }, details: { changes: { owner: { from: 'alice@example.com', to: 'carol@example.com' } } } }],
    'audited',
  );
  expectProblem(t, await alice('GET', '/admin/clients/alice-one'), 404, 'Alice no longer sees it');

  const byToken = await server.admin('PATCH', '/admin/clients/alice-one', { owner: 'alice@example.com' });
  t.equal(byToken.statusCode, 200, 'an admin client (admin:write) may too');
  t.equal((await alice('GET', '/admin/clients/alice-one')).statusCode, 200, 'and Alice has it back');

  const selfService = await ada('POST', '/admin/services', {
    id: 'open',
    name: 'Open',
    audience: 'https://open.example',
    self_service: true,
  });
  t.match(selfService.json(), { id: 'open', self_service: true });
  const admin = await ada('PATCH', '/admin/services/portier-admin', { self_service: true });
  expectProblem(t, admin, 409, 'portier-admin is never self-service');
  t.match(admin.json().detail, /never open to self-service/);
  const listed = (await server.admin('GET', '/admin/services')).json().items as Array<{ id: string; self_service: boolean }>;
  t.same(
    listed.map((service) => [service.id, service.self_service]),
    [
      ['billing', false],
      ['open', true],
      ['orders', true],
      ['portier-admin', false],
    ],
    'self_service is false unless set',
  );
});

t.test('operators: the credentials of their own clients, within the same limits; another’s answer 404', async (t) => {
  const server = await setUp(t);
  const alice = await server.as(ALICE);
  const credentials = async (clientId: string) =>
    ((await server.admin('GET', `/admin/clients/${clientId}/credentials`)).json().credentials as Array<{ id: string }>).map((c) => c.id);

  const listed = await alice('GET', '/admin/clients/alice-one/credentials');
  t.equal(listed.statusCode, 200, 'Alice lists her client’s credentials');
  t.equal(listed.json().credentials.length, 1);
  const added = await alice('POST', '/admin/clients/alice-one/credentials', { kind: 'secret', description: 'rotation' });
  t.equal(added.statusCode, 201, 'and adds one');
  t.match(added.json(), { secret: /^portier_cred_/, created_by: `${IDP}#alice` });
  const token = await postToken(
    server.app,
    { grant_type: 'client_credentials', resource: 'https://orders.example' },
    { authorization: basicAuth('alice-one', added.json().secret) },
  );
  t.equal(token.statusCode, 200, 'the new secret gets tokens');
  for (let live = 2; live < 5; live += 1) await alice('POST', '/admin/clients/alice-one/credentials', { kind: 'secret' });
  const sixth = await alice('POST', '/admin/clients/alice-one/credentials', { kind: 'secret' });
  expectProblem(t, sixth, 409, 'past MAX_CREDENTIALS_PER_CLIENT, as for an admin');
  t.match(sixth.json().detail, /remove one first/);
  const [first] = await credentials('alice-one');
  t.equal((await alice('DELETE', `/admin/clients/alice-one/credentials/${first}`)).statusCode, 204, 'and removes one');

  const [bobs] = await credentials('bob-one');
  for (const [what, method, url, payload] of [
    ['list', 'GET', '/admin/clients/bob-one/credentials', undefined],
    ['add', 'POST', '/admin/clients/bob-one/credentials', { kind: 'secret' }],
    ['remove', 'DELETE', `/admin/clients/bob-one/credentials/${bobs}`, undefined],
    ['remove through her own client', 'DELETE', `/admin/clients/alice-one/credentials/${bobs}`, undefined],
  ] as const) {
    expectProblem(t, await alice(method, url, payload), 404, `${what}: another’s credential`);
  }
  t.same(await credentials('bob-one'), [bobs], 'Bob’s credentials are untouched');
  const otto = await server.as(OTTO);
  expectProblem(t, await otto('POST', '/admin/clients/alice-one/credentials', { kind: 'secret' }), 403, 'an auditor adds none');
  const audit = (await server.admin('GET', '/admin/audit-events?action=credential.added&client_id=alice-one')).json();
  t.match(audit.items[0], { actor: { sub: `${IDP}#alice` } }, 'audited as Alice');
});
