import { eq } from 'drizzle-orm';
import { exportJWK, generateKeyPair } from 'jose';
import t, { type Test } from 'tap';
import { clientCredentials, clients } from '../../src/db/schema.js';
import { expectInvalid, expectProblem } from '../expect.js';
import { addService, basicAuth, buildWithAdmin, postToken } from '../helpers.js';

// The life of a client through the admin API: read, update, disable/enable (one and in
// bulk), delete, regenerate its secret, and last_used_at.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
interface Resource {
  client_id: string;
  name: string;
  description: string;
  owner: string;
  created_at: string;
  updated_at: string;
  first_name: string | null;
  last_name: string | null;
  roles: string[];
  grants: Array<{ service: string; scopes: string[] }>;
  ip_ranges: string[];
  expires_at: string | null;
  enabled: boolean;
  status: 'active' | 'disabled' | 'expired';
  last_used_at: string | null;
  service_account: { id: string; username: string };
}

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] };
const GRANT = [{ service: 'events', scopes: ['events:read'] }];

async function setUp(t: Test): Promise<Server> {
  const server = await buildWithAdmin(t);
  await addService(server.database, EVENTS);
  await addService(server.database, BILLING);
  return server;
}

/** Creates a client through the API; returns its secret. */
async function create(t: Test, server: Server, clientId: string, fields: Record<string, unknown> = {}): Promise<string> {
  const response = await server.admin('POST', '/admin/clients', {
    client_id: clientId,
    name: `Client ${clientId}`,
    owner: 'user-1',
    grants: GRANT,
    ...fields,
  });
  t.equal(response.statusCode, 201, `${clientId} created`);
  return (response.json() as { client_secret?: string }).client_secret ?? '';
}

function tokenRequest(server: Server, clientId: string, secret: string) {
  return postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, secret) });
}

async function expectToken(t: Test, server: Server, clientId: string, secret: string, what: string): Promise<void> {
  const response = await tokenRequest(server, clientId, secret);
  t.equal(response.statusCode, 200, `${what}: token issued`);
}

async function expectRefused(t: Test, server: Server, clientId: string, secret: string, what: string): Promise<void> {
  const response = await tokenRequest(server, clientId, secret);
  t.equal(response.statusCode, 401, `${what}: 401`);
  t.equal((response.json() as { error: string }).error, 'invalid_client', `${what}: invalid_client`);
}

async function get(server: Server, clientId: string): Promise<Resource> {
  const response = await server.admin('GET', `/admin/clients/${clientId}`);
  if (response.statusCode !== 200) throw new Error(`GET ${clientId}: ${response.statusCode} ${response.body}`);
  return response.json() as Resource;
}

/** Moves the server's clock past `at` (to let a short expiry run out). */
function moveClockPast(server: Server, at: number): void {
  server.clock.advance(Math.max(0, at - server.clock.now()) + 1);
}

t.test('get: the resource, and 404 for an unknown client', async (t) => {
  const server = await setUp(t);
  await create(t, server, 'readable', { description: 'to read', roles: ['r1'] });
  const client = await get(server, 'readable');
  t.match(client, { client_id: 'readable', description: 'to read', roles: ['r1'], grants: GRANT, status: 'active' });
  for (const url of ['/admin/clients/no-such-client', '/admin/clients/readable2', '/admin/clients/readable/']) {
    const response = await server.admin('GET', url);
    if (url.endsWith('/')) t.equal(response.statusCode, 200, 'a trailing slash is ignored');
    else expectProblem(t, response, 404, `GET ${url}`);
  }
  expectProblem(t, await server.admin('GET', '/admin/clients/readable/nothing-here'), 404, 'an unknown sub-resource');
});

t.test('patch: each field set, replaced and cleared', async (t) => {
  const server = await setUp(t);
  const secret = await create(t, server, 'patchable', {
    description: 'before',
    first_name: 'First',
    last_name: 'Last',
    roles: ['a'],
    ip_ranges: ['127.0.0.1'],
  });
  const before = await get(server, 'patchable');

  const steps: Array<[string, Record<string, unknown>, Partial<Resource>]> = [
    ['name', { name: 'Renamed' }, { name: 'Renamed' }],
    ['description', { description: 'after' }, { description: 'after' }],
    ['description emptied', { description: '' }, { description: '' }],
    ['first and last name', { first_name: 'Eaglebe', last_name: 'Events' }, { first_name: 'Eaglebe', last_name: 'Events' }],
    ['first name cleared', { first_name: null }, { first_name: null, last_name: 'Events' }],
    ['last name cleared', { last_name: null }, { first_name: null, last_name: null }],
    ['roles replaced', { roles: ['events-reader', 'events-writer'] }, { roles: ['events-reader', 'events-writer'] }],
    ['roles emptied', { roles: [] }, { roles: [] }],
    [
      'grants replaced as a whole',
      {
        grants: [
          { service: 'billing', scopes: ['billing:read'] },
          { service: 'events', scopes: ['events:read', 'events:write'] },
        ],
      },
      {
        grants: [
          { service: 'billing', scopes: ['billing:read'] },
          { service: 'events', scopes: ['events:read', 'events:write'] },
        ],
      },
    ],
    ['grants narrowed', { grants: GRANT }, { grants: GRANT }],
    ['ip_ranges replaced (and normalised)', { ip_ranges: ['127.0.0.0/8', '10.1.2.3/16'] }, { ip_ranges: ['10.1.0.0/16', '127.0.0.0/8'] }],
    ['ip_ranges emptied', { ip_ranges: [] }, { ip_ranges: [] }],
  ];
  let previous = before;
  for (const [what, patch, expected] of steps) {
    const response = await server.admin('PATCH', '/admin/clients/patchable', patch);
    t.equal(response.statusCode, 200, `${what}: 200`);
    const after = response.json() as Resource;
    t.match(after, expected, `${what}: the response shows it`);
    t.match(await get(server, 'patchable'), expected, `${what}: GET shows it`);
    t.equal(after.created_at, before.created_at, `${what}: created_at unchanged`);
    t.equal(after.owner, 'user-1', `${what}: owner unchanged`);
    t.equal(after.service_account.id, before.service_account.id, `${what}: same service account`);
    t.ok(Date.parse(after.updated_at) >= Date.parse(previous.updated_at), `${what}: updated_at does not go back`);
    previous = after;
  }
  t.ok(Date.parse(previous.updated_at) >= Date.parse(before.updated_at), 'updated_at is at least created_at');
  t.same((await get(server, 'patchable')).grants, GRANT, 'grants as last set');

  // expires_at: set, moved, cleared.
  const inADay = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const inAWeek = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString();
  t.equal(
    ((await server.admin('PATCH', '/admin/clients/patchable', { expires_at: inADay })).json() as Resource).expires_at,
    inADay,
    'expires_at set',
  );
  t.equal(
    ((await server.admin('PATCH', '/admin/clients/patchable', { expires_at: inAWeek })).json() as Resource).expires_at,
    inAWeek,
    'expires_at moved',
  );
  const cleared = (await server.admin('PATCH', '/admin/clients/patchable', { expires_at: null })).json() as Resource;
  t.equal(cleared.expires_at, null, 'expires_at cleared with null');
  t.equal(cleared.status, 'active');

  // Several fields at once.
  const many = await server.admin('PATCH', '/admin/clients/patchable', {
    name: 'Many',
    description: 'd',
    roles: ['x'],
    expires_at: inADay,
  });
  t.match(many.json(), { name: 'Many', description: 'd', roles: ['x'], expires_at: inADay });

  // The secret survived all of this.
  await expectToken(t, server, 'patchable', secret, 'after the patches');
});

t.test('patch: refusals', async (t) => {
  const server = await setUp(t);
  await create(t, server, 'fixed-fields');
  const before = await get(server, 'fixed-fields');
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['client_id', { client_id: 'renamed' }, ['/client_id']],
    ['client_id, even unchanged', { client_id: 'fixed-fields' }, ['/client_id']],
    ['owner not one word', { owner: 'two words' }, ['/owner']],
    ['owner emptied', { owner: '' }, ['/owner']],
    [
      'client_id beside a valid owner and name: none of them sticks',
      { client_id: 'renamed', owner: 'user-2', name: 'Should not stick' },
      ['/client_id'],
    ],
    ['unknown service', { grants: [{ service: 'nope', scopes: [] }] }, ['/grants/0/service']],
    ['unknown scope', { grants: [{ service: 'events', scopes: ['events:read', 'nope'] }] }, ['/grants/0/scopes/1']],
    ['bad CIDR', { ip_ranges: ['10.0.0.0/8', '10.0.0.256'] }, ['/ip_ranges/1']],
    ['past expires_at', { expires_at: '2001-01-01T00:00:00Z' }, ['/expires_at']],
    ['name emptied', { name: '' }, ['/name']],
    ['name null', { name: null }, ['/name']],
    ['roles null', { roles: null }, ['/roles']],
    ['grants null', { grants: null }, ['/grants']],
  ];
  for (const [what, patch, paths] of cases) {
    expectInvalid(t, await server.admin('PATCH', '/admin/clients/fixed-fields', patch), paths, what);
  }
  const empty = await server.admin('PATCH', '/admin/clients/fixed-fields', {});
  expectProblem(t, empty, 400, 'empty body');
  t.same(await get(server, 'fixed-fields'), before, 'nothing changed, not even updated_at');

  expectProblem(t, await server.admin('PATCH', '/admin/clients/no-such-client', { name: 'x' }), 404, 'unknown client');
  t.equal((await server.admin('GET', '/admin/clients/no-such-client')).statusCode, 404, 'PATCH did not create it');
});

t.test('disable and enable; status is derived', async (t) => {
  const server = await setUp(t);
  const secret = await create(t, server, 'toggled');
  await expectToken(t, server, 'toggled', secret, 'active');

  const disabled = await server.admin('POST', '/admin/clients/toggled/disable');
  t.equal(disabled.statusCode, 200);
  t.match(disabled.json(), { client_id: 'toggled', enabled: false, status: 'disabled' }, 'disable answers with the resource');
  t.match(await get(server, 'toggled'), { enabled: false, status: 'disabled' });
  await expectRefused(t, server, 'toggled', secret, 'disabled, at once');
  const again = await server.admin('POST', '/admin/clients/toggled/disable');
  t.equal(again.statusCode, 200, 'disabling twice is fine');
  t.match(again.json(), { status: 'disabled' });

  const enabled = await server.admin('POST', '/admin/clients/toggled/enable');
  t.equal(enabled.statusCode, 200);
  t.match(enabled.json(), { enabled: true, status: 'active' });
  await expectToken(t, server, 'toggled', secret, 'enabled again with the same secret');
  t.equal((await server.admin('POST', '/admin/clients/toggled/enable')).statusCode, 200, 'enabling twice is fine');

  // Everything else survived.
  t.match(await get(server, 'toggled'), { name: 'Client toggled', grants: GRANT });

  for (const action of ['disable', 'enable']) {
    expectProblem(t, await server.admin('POST', `/admin/clients/no-such-client/${action}`), 404, `${action} an unknown client`);
  }
  // The action takes no body; an empty JSON object is harmless.
  const withBody = await server.admin('POST', '/admin/clients/toggled/disable', {});
  t.ok([200, 400].includes(withBody.statusCode), 'disable with an empty JSON object: handled, never 500');
});

t.test('expired clients', async (t) => {
  const server = await setUp(t);
  const expiresAt = Date.now() + 1500;
  const secret = await create(t, server, 'expiring', { expires_at: new Date(expiresAt).toISOString() });
  await create(t, server, 'expiring-disabled', { expires_at: new Date(expiresAt).toISOString() });
  t.equal((await server.admin('POST', '/admin/clients/expiring-disabled/disable')).statusCode, 200);
  t.equal((await get(server, 'expiring')).status, 'active', 'active before expires_at');
  moveClockPast(server, expiresAt);

  t.match(await get(server, 'expiring'), { status: 'expired', enabled: true }, 'expired after expires_at, still enabled');
  t.match(await get(server, 'expiring-disabled'), { status: 'disabled', enabled: false }, 'disabled wins over expired');
  await expectRefused(t, server, 'expiring', secret, 'expired');

  // Enabling an expired client does not revive it; moving expires_at does.
  t.match((await server.admin('POST', '/admin/clients/expiring/enable')).json(), { status: 'expired' }, 'enable: still expired');
  const extended = await server.admin('PATCH', '/admin/clients/expiring', { expires_at: new Date(Date.now() + 3600_000).toISOString() });
  t.match(extended.json(), { status: 'active' }, 'a new expires_at makes it active');
  await expectToken(t, server, 'expiring', secret, 'after the extension');

  // An expired client via the database, as time would do it.
  const secret2 = await create(t, server, 'expired-row');
  await server.database.db
    .update(clients)
    .set({ expiresAt: new Date(Date.now() - 60_000) })
    .where(eq(clients.clientId, 'expired-row'));
  server.app.portier.generation.changed();
  t.match(await get(server, 'expired-row'), { status: 'expired', enabled: true });
  await expectRefused(t, server, 'expired-row', secret2, 'expired row');
  const cleared = await server.admin('PATCH', '/admin/clients/expired-row', { expires_at: null });
  t.match(cleared.json(), { status: 'active', expires_at: null }, 'clearing expires_at makes it active');
  await expectToken(t, server, 'expired-row', secret2, 'after clearing expires_at');
});

t.test('bulk enable and disable: a result per id, in the order given', async (t) => {
  const server = await setUp(t);
  const secrets: Record<string, string> = {};
  for (const id of ['bulk-a', 'bulk-b', 'bulk-c']) secrets[id] = await create(t, server, id);
  t.equal((await server.admin('POST', '/admin/clients/bulk-c/disable')).statusCode, 200);

  const disabled = await server.admin('POST', '/admin/clients/bulk', {
    action: 'disable',
    client_ids: ['bulk-c', 'no-such-client', 'bulk-a'],
  });
  t.equal(disabled.statusCode, 200);
  t.match(disabled.headers['content-type'], /^application\/json/);
  const results = (disabled.json() as { results: Array<{ client_id: string; ok: boolean; status?: string; error?: string }> }).results;
  t.same(
    results.map((result) => result.client_id),
    ['bulk-c', 'no-such-client', 'bulk-a'],
    'one result per id, in the order given',
  );
  t.match(results[0], { ok: true, status: 'disabled' }, 'already disabled: ok');
  t.match(results[1], { ok: false }, 'unknown id: ok false');
  t.type(results[1]?.error, 'string', 'unknown id: with an error message');
  t.notOk('status' in (results[1] ?? {}), 'unknown id: no status');
  t.match(results[2], { ok: true, status: 'disabled' });
  t.equal((await get(server, 'bulk-b')).status, 'active', 'an id not listed is untouched');
  await expectRefused(t, server, 'bulk-a', secrets['bulk-a'] ?? '', 'bulk-disabled');
  await expectToken(t, server, 'bulk-b', secrets['bulk-b'] ?? '', 'not in the bulk');

  const enabled = await server.admin('POST', '/admin/clients/bulk', {
    action: 'enable',
    client_ids: ['bulk-a', 'bulk-b', 'bulk-c', 'missing-one'],
  });
  t.equal(enabled.statusCode, 200);
  const enabledResults = (enabled.json() as { results: Array<{ client_id: string; ok: boolean; status?: string }> }).results;
  t.same(
    enabledResults.map(({ client_id, ok, status }) => ({ client_id, ok, status })),
    [
      { client_id: 'bulk-a', ok: true, status: 'active' },
      { client_id: 'bulk-b', ok: true, status: 'active' },
      { client_id: 'bulk-c', ok: true, status: 'active' },
      { client_id: 'missing-one', ok: false, status: undefined },
    ],
  );
  for (const id of ['bulk-a', 'bulk-b', 'bulk-c']) await expectToken(t, server, id, secrets[id] ?? '', `${id} enabled in bulk`);

  // Only unknown ids: still 200 with a result each.
  const none = await server.admin('POST', '/admin/clients/bulk', { action: 'disable', client_ids: ['ghost-1', 'ghost-2'] });
  t.equal(none.statusCode, 200);
  t.same(
    (none.json() as { results: Array<{ ok: boolean }> }).results.map((result) => result.ok),
    [false, false],
  );

  // 200 ids is the limit.
  const ids = Array.from({ length: 200 }, (_, i) => `ghost-${String(i).padStart(3, '0')}`);
  const max = await server.admin('POST', '/admin/clients/bulk', { action: 'enable', client_ids: ids });
  t.equal(max.statusCode, 200, '200 ids: 200');
  t.equal((max.json() as { results: unknown[] }).results.length, 200);
  expectProblem(
    t,
    await server.admin('POST', '/admin/clients/bulk', { action: 'enable', client_ids: [...ids, 'ghost-200'] }),
    400,
    '201 ids',
  );
});

t.test('delete: 204, then 404; permanent', async (t) => {
  const server = await setUp(t);
  const secret = await create(t, server, 'doomed', { ip_ranges: ['127.0.0.1'] });
  await expectToken(t, server, 'doomed', secret, 'before delete');

  const deleted = await server.admin('DELETE', '/admin/clients/doomed');
  t.equal(deleted.statusCode, 204);
  t.equal(deleted.body, '', '204 has no body');
  expectProblem(t, await server.admin('GET', '/admin/clients/doomed'), 404, 'GET after delete');
  expectProblem(t, await server.admin('DELETE', '/admin/clients/doomed'), 404, 'DELETE again');
  expectProblem(t, await server.admin('PATCH', '/admin/clients/doomed', { name: 'x' }), 404, 'PATCH after delete');
  expectProblem(t, await server.admin('POST', '/admin/clients/doomed/enable'), 404, 'enable after delete');
  expectProblem(t, await server.admin('POST', '/admin/clients/doomed/secret'), 404, 'new secret after delete');
  await expectRefused(t, server, 'doomed', secret, 'after delete');
  const list = (await server.admin('GET', '/admin/clients')).json() as { items: Resource[] };
  t.notOk(
    list.items.some((item) => item.client_id === 'doomed'),
    'gone from the list',
  );

  // Re-created with the same client_id: the old secret does not open the new client.
  const newSecret = await create(t, server, 'doomed');
  await expectRefused(t, server, 'doomed', secret, 'the old secret on the re-created client');
  await expectToken(t, server, 'doomed', newSecret, 'the new secret');
  t.same((await get(server, 'doomed')).ip_ranges, [], 'nothing of the old client carried over');
  expectProblem(t, await server.admin('DELETE', '/admin/clients/never-existed'), 404, 'DELETE unknown');
});

t.test('regenerate secret: the old one stops at once', async (t) => {
  const server = await setUp(t);
  const original = await create(t, server, 'rotating');
  await expectToken(t, server, 'rotating', original, 'original');

  const response = await server.admin('POST', '/admin/clients/rotating/secret');
  t.equal(response.statusCode, 200);
  const body = response.json() as { client_id: string; client_secret: string; previous_secret_expires_at: string | null };
  t.same(Object.keys(body).sort(), ['client_id', 'client_secret', 'previous_secret_expires_at']);
  t.equal(body.client_id, 'rotating');
  t.match(body.client_secret, /^portier_cred_[0-9A-Za-z]{16}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}$/);
  t.not(body.client_secret, original);
  t.equal(body.previous_secret_expires_at, null, 'no grace period by default');
  await expectRefused(t, server, 'rotating', original, 'old secret, at once');
  await expectToken(t, server, 'rotating', body.client_secret, 'new secret');

  // An explicit 0 means the same; an empty JSON body too.
  const zero = (await server.admin('POST', '/admin/clients/rotating/secret', { previous_secret_valid_for: 0 })).json() as typeof body;
  await expectRefused(t, server, 'rotating', body.client_secret, 'grace 0');
  const emptyBody = await server.admin('POST', '/admin/clients/rotating/secret', {});
  t.equal(emptyBody.statusCode, 200, 'an empty JSON body is fine');
  await expectRefused(t, server, 'rotating', zero.client_secret, 'after {}');
  await expectToken(t, server, 'rotating', (emptyBody.json() as typeof body).client_secret, 'latest');

  // The new secret is not shown anywhere else.
  const latest = (emptyBody.json() as typeof body).client_secret;
  for (const url of [
    '/admin/clients/rotating',
    '/admin/clients',
    '/admin/audit-events?client_id=rotating',
    '/admin/audit-events?limit=200',
  ]) {
    const read = await server.admin('GET', url);
    t.notOk(read.body.includes(latest), `${url}: the secret is not in it`);
    t.notOk(read.body.includes('$argon2'), `${url}: no hash`);
  }
  const events = (await server.admin('GET', '/admin/audit-events?client_id=rotating')).json() as { items: Array<{ action: string }> };
  t.equal(events.items.filter((event) => event.action === 'client.secret_regenerated').length, 3, 'each regeneration audited');

  expectProblem(t, await server.admin('POST', '/admin/clients/no-such-client/secret'), 404, 'unknown client');
});

t.test('regenerate secret with a grace period', async (t) => {
  const server = await setUp(t);
  const a = await create(t, server, 'graceful');

  const before = Date.now();
  const first = await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 3600 });
  const after = Date.now();
  t.equal(first.statusCode, 200);
  const firstBody = first.json() as { client_secret: string; previous_secret_expires_at: string };
  const b = firstBody.client_secret;
  const graceEnd = Date.parse(firstBody.previous_secret_expires_at);
  t.ok(
    graceEnd >= Math.floor(before / 1000) * 1000 + 3600_000 - 1000 && graceEnd <= after + 3600_000 + 1000,
    'previous_secret_expires_at is an hour from now',
  );
  await expectToken(t, server, 'graceful', a, 'previous secret during its grace period');
  await expectToken(t, server, 'graceful', b, 'new secret');

  // A third secret during the grace period: every other secret gets the new grace period,
  // unless its own ends sooner (each is a credential of its own, see docs/clients.md).
  const second = await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 3600 });
  t.equal(second.statusCode, 200);
  const c = (second.json() as { client_secret: string }).client_secret;
  await expectToken(t, server, 'graceful', a, 'the oldest secret, in its own grace period still');
  await expectToken(t, server, 'graceful', b, 'the previous secret, now in grace');
  await expectToken(t, server, 'graceful', c, 'the newest secret');
  const client = await get(server, 'graceful');
  const rows = await server.database.db.select().from(clientCredentials).where(eq(clientCredentials.clientUuid, client.service_account.id));
  t.equal(rows.length, 3, 'three secret credentials');
  t.equal(rows.filter((row) => row.expiresAt === null).length, 1, 'one without an expiry: the newest');

  // Regenerating without grace ends both at once.
  const third = await server.admin('POST', '/admin/clients/graceful/secret');
  const d = (third.json() as { client_secret: string }).client_secret;
  await expectRefused(t, server, 'graceful', b, 'grace secret after an immediate regeneration');
  await expectRefused(t, server, 'graceful', c, 'current secret after an immediate regeneration');
  await expectToken(t, server, 'graceful', d, 'the only secret');

  // The longest grace allowed is 7 days; one second more is refused, and nothing changes.
  const week = await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 604800 });
  t.equal(week.statusCode, 200, '7 days: 200');
  const e = (week.json() as { client_secret: string }).client_secret;
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 604801 }),
    ['/previous_secret_valid_for'],
    '7 days and a second',
  );
  expectInvalid(
    t,
    await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 1e12 }),
    ['/previous_secret_valid_for'],
    'a huge grace',
  );
  await expectToken(t, server, 'graceful', d, 'the previous secret after the refused request');
  await expectToken(t, server, 'graceful', e, 'the current secret after the refused request');

  // A short grace period runs out on its own.
  const short = await server.admin('POST', '/admin/clients/graceful/secret', { previous_secret_valid_for: 1 });
  const shortBody = short.json() as { client_secret: string; previous_secret_expires_at: string };
  moveClockPast(server, Date.parse(shortBody.previous_secret_expires_at));
  await expectRefused(t, server, 'graceful', e, 'the previous secret after its grace period');
  await expectToken(t, server, 'graceful', shortBody.client_secret, 'the new secret after the grace period');
});

t.test('regenerate secret for a private_key_jwt client: 409', async (t) => {
  const server = await setUp(t);
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  await create(t, server, 'jwt-only', { auth_method: 'private_key_jwt', jwks: { keys: [await exportJWK(publicKey)] } });
  const response = await server.admin('POST', '/admin/clients/jwt-only/secret');
  expectProblem(t, response, 409, 'regenerate');
  t.notOk(response.body.includes('portier_cred_'), 'no secret in the refusal');
  const client = await get(server, 'jwt-only');
  const rows = await server.database.db.select().from(clientCredentials).where(eq(clientCredentials.clientUuid, client.service_account.id));
  t.equal(rows.filter((row) => row.kind === 'secret').length, 0, 'no secret was stored');
  expectProblem(
    t,
    await server.admin('POST', '/admin/clients/jwt-only/secret', { previous_secret_valid_for: 60 }),
    409,
    'with a grace period',
  );
});

t.test('last_used_at: null until used, then set', async (t) => {
  const server = await setUp(t);
  const secret = await create(t, server, 'used-client');
  await create(t, server, 'unused-client');
  t.equal((await get(server, 'used-client')).last_used_at, null, 'null before any use');

  // A refused request is not a use.
  await expectRefused(t, server, 'used-client', 'portier_cs_wrong', 'wrong secret');
  await server.app.portier.lastUsed.flush();
  t.equal((await get(server, 'used-client')).last_used_at, null, 'still null after a refused request');

  const before = Date.now();
  await expectToken(t, server, 'used-client', secret, 'first use');
  const after = Date.now();
  await server.app.portier.lastUsed.flush();
  const used = await get(server, 'used-client');
  t.type(used.last_used_at, 'string', 'set after a token request and a flush');
  const at = Date.parse(used.last_used_at ?? '');
  t.ok(at >= before - 1000 && at <= after + 1000, 'to the time of the request');
  t.equal((await get(server, 'unused-client')).last_used_at, null, 'another client is not touched');

  const list = (await server.admin('GET', '/admin/clients')).json() as { items: Resource[] };
  t.equal(list.items.find((item) => item.client_id === 'used-client')?.last_used_at, used.last_used_at, 'the list shows it too');

  // It only moves forward.
  await expectToken(t, server, 'used-client', secret, 'second use');
  await server.app.portier.lastUsed.flush();
  const later = await get(server, 'used-client');
  t.ok(Date.parse(later.last_used_at ?? '') >= at, 'a later use does not move it back');
  t.equal(later.updated_at, used.updated_at, 'use is not an update');
});
