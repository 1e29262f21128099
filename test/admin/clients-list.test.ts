import { eq } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { getClient } from '../../src/clients/clients.js';
import { clients } from '../../src/db/schema.js';
import { ADMIN_ID, addClient, addService, buildWithAdmin } from '../helpers.js';

// GET /admin/clients: every filter alone and combined, limits, and cursor pagination that
// neither repeats nor skips a client, also while clients are added between pages.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
interface Page {
  items: Array<{ client_id: string; name: string; owner: string; created_by: string; status: string; expires_at: string | null }>;
  next_cursor: string | null;
}

const DAY = 24 * 3600 * 1000;

async function list(t: Test, server: Server, query: string): Promise<Page> {
  const response = await server.admin('GET', `/admin/clients${query === '' ? '' : `?${query}`}`);
  t.equal(response.statusCode, 200, `GET ?${query}: 200`);
  const page = response.json() as Page;
  t.same(Object.keys(page).sort(), ['items', 'next_cursor'], `GET ?${query}: {items, next_cursor}`);
  return page;
}

async function ids(t: Test, server: Server, query: string): Promise<string[]> {
  return (await list(t, server, query)).items.map((item) => item.client_id);
}

/** Follows next_cursor to the end; returns every client_id in the order seen. */
async function allPages(t: Test, server: Server, query: string, limit: number): Promise<{ seen: string[]; pages: number }> {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: Page = await list(t, server, `${query}&limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    t.ok(page.items.length <= limit, `page ${pages + 1}: at most ${limit} items`);
    seen.push(...page.items.map((item) => item.client_id));
    cursor = page.next_cursor;
    pages += 1;
    if (pages > 100) throw new Error('pagination does not end');
  } while (cursor !== null);
  return { seen, pages };
}

t.test('filters, alone and combined', async (t) => {
  const server = await buildWithAdmin(t);
  const { admin } = server;
  await addService(server.database, { id: 'events', audience: 'https://events.example', scopes: ['events:read'] });
  await addService(server.database, { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] });
  const rootSub = (await getClient(server.database.db, ADMIN_ID, Date.now()))?.service_account.id ?? '';

  const now = Date.now();
  const create = async (body: Record<string, unknown>, token?: string) => {
    const response = await admin('POST', '/admin/clients', body, token);
    t.equal(response.statusCode, 201, `${String(body.client_id)} created`);
    return response.json() as { client_secret: string; service_account: { id: string } };
  };
  await create({
    client_id: 'alpha-one',
    name: 'Alpha One',
    owner: 'user-1',
    grants: [{ service: 'events', scopes: [] }],
    expires_at: new Date(now + 10 * DAY).toISOString(),
  });
  await create({ client_id: 'alpha-two', name: 'ALPHA two', owner: 'user-2', grants: [{ service: 'billing', scopes: [] }] });
  await create({
    client_id: 'beta',
    name: 'Beta',
    owner: 'user-1',
    grants: [
      { service: 'events', scopes: [] },
      { service: 'billing', scopes: ['billing:read'] },
    ],
    expires_at: new Date(now + 30 * DAY).toISOString(),
  });
  t.equal((await admin('POST', '/admin/clients/beta/disable')).statusCode, 200);
  await create({ client_id: 'expired-one', name: 'Expired one', owner: 'user-2', expires_at: new Date(now + 5 * DAY).toISOString() });
  await server.database.db
    .update(clients)
    .set({ expiresAt: new Date(now - DAY) })
    .where(eq(clients.clientId, 'expired-one'));
  // A second admin creates one client, so created_by has two values.
  const second = await create({
    client_id: 'second-admin',
    name: 'Second admin',
    owner: 'ops',
    grants: [{ service: 'portier-admin', scopes: ['admin:write'] }],
  });
  const secondToken = await server.tokenFor('admin:write', 'second-admin', second.client_secret);
  await create({ client_id: 'gamma', name: 'Gamma 50%_off \\ backslash', owner: 'user-3' }, secondToken);
  await create({ client_id: 'delta', name: 'Delta', owner: 'user-3' });

  const everyone = ['alpha-one', 'alpha-two', 'beta', 'delta', 'expired-one', 'gamma', ADMIN_ID, 'second-admin'].sort();
  t.same(await ids(t, server, ''), everyone, 'no filter: everyone, sorted by client_id');

  const cases: Array<[string, string[]]> = [
    // name: case-insensitive substring; LIKE wildcards are literal.
    ['name=alpha', ['alpha-one', 'alpha-two']],
    ['name=ALPHA', ['alpha-one', 'alpha-two']],
    ['name=pha%20t', ['alpha-two']],
    ['name=ONE', ['alpha-one', 'expired-one']],
    ['name=50%25', ['gamma']],
    ['name=%25', ['gamma']],
    ['name=_', ['gamma']],
    ['name=%5C', ['gamma']],
    ['name=a%25', []],
    ['name=nobody', []],
    ['name=', everyone],
    // owner and created_by: exact.
    ['owner=user-1', ['alpha-one', 'beta']],
    ['owner=user-3', ['delta', 'gamma']],
    ['owner=USER-1', []],
    ['owner=user', []],
    [`created_by=${second.service_account.id}`, ['gamma']],
    [`created_by=${rootSub}`, ['alpha-one', 'alpha-two', 'beta', 'delta', 'expired-one', 'second-admin']],
    ['created_by=bootstrap', [ADMIN_ID]],
    ['created_by=nobody', []],
    // status: derived.
    ['status=active', ['alpha-one', 'alpha-two', 'delta', 'gamma', ADMIN_ID, 'second-admin'].sort()],
    ['status=disabled', ['beta']],
    ['status=expired', ['expired-one']],
    // service: granted that service.
    ['service=events', ['alpha-one', 'beta']],
    ['service=billing', ['alpha-two', 'beta']],
    ['service=portier-admin', [ADMIN_ID, 'second-admin'].sort()],
    ['service=unknown-service', []],
    // expiry: clients without expires_at match neither.
    [`expires_before=${new Date(now + 20 * DAY).toISOString()}`, ['alpha-one', 'expired-one']],
    [`expires_after=${new Date(now).toISOString()}`, ['alpha-one', 'beta']],
    [`expires_after=${new Date(now + 20 * DAY).toISOString()}`, ['beta']],
    [`expires_before=${new Date(now).toISOString()}`, ['expired-one']],
    // Combinations: every filter must hold.
    [`expires_after=${new Date(now).toISOString()}&expires_before=${new Date(now + 20 * DAY).toISOString()}`, ['alpha-one']],
    ['owner=user-1&status=active', ['alpha-one']],
    ['owner=user-1&status=disabled', ['beta']],
    ['owner=user-2&status=expired', ['expired-one']],
    ['owner=user-2&status=active', ['alpha-two']],
    ['name=a&service=billing&owner=user-2', ['alpha-two']],
    ['name=beta&service=events&status=disabled', ['beta']],
    ['name=beta&status=active', []],
    [`created_by=${rootSub}&owner=user-3`, ['delta']],
    [`created_by=${second.service_account.id}&owner=user-3&name=gamma`, ['gamma']],
    [`service=events&expires_before=${new Date(now + 20 * DAY).toISOString()}`, ['alpha-one']],
  ];
  for (const [query, expected] of cases) {
    t.same(await ids(t, server, query), expected, `?${query}`);
  }

  // A filter given twice is ambiguous: refused, not silently narrowed to one.
  const twice = await admin('GET', '/admin/clients?service=events&service=billing');
  t.equal(twice.statusCode, 400, 'a filter given twice: 400');

  // The items are full resources.
  const [beta] = (await list(t, server, 'name=beta')).items;
  t.match(beta, { client_id: 'beta', owner: 'user-1', status: 'disabled', created_by: rootSub });
  t.notOk(JSON.stringify(await list(t, server, '')).includes('portier_cred_'), 'no secret in the list');
});

t.test('limit', async (t) => {
  const server = await buildWithAdmin(t);
  for (let i = 0; i < 3; i++) await addClient(server, { client_id: `limited-${i}`, owner: 'limited' });
  t.equal((await list(t, server, 'limit=1')).items.length, 1, 'limit=1: one item');
  t.type((await list(t, server, 'limit=1')).next_cursor, 'string', 'limit=1: and a cursor');
  t.equal((await list(t, server, 'limit=200')).items.length, 4, 'limit=200: everything');
  t.equal((await list(t, server, 'limit=200')).next_cursor, null, 'limit=200: no cursor');
  t.equal((await list(t, server, 'owner=limited&limit=3')).next_cursor, null, 'exactly limit items: no next page');
  t.type((await list(t, server, 'owner=limited&limit=2')).next_cursor, 'string', 'more than limit: a next page');
  for (const limit of ['0', '201', '-1', '1000', 'x', '']) {
    const response = await server.admin('GET', `/admin/clients?limit=${limit}`);
    t.equal(response.statusCode, 400, `limit=${limit}: 400`);
    t.match(response.headers['content-type'], /^application\/problem\+json/);
  }

  // The default page size is 50.
  for (let i = 3; i < 60; i++) await addClient(server, { client_id: `limited-${String(i).padStart(2, '0')}`, owner: 'limited' });
  const page = await list(t, server, 'owner=limited');
  t.equal(page.items.length, 50, 'default: 50 items');
  t.type(page.next_cursor, 'string');
});

t.test('cursor pagination: each client exactly once', async (t) => {
  const server = await buildWithAdmin(t);
  const expected: string[] = [];
  for (let i = 0; i < 25; i++) {
    const clientId = `pager-${String(i).padStart(2, '0')}`;
    expected.push(clientId);
    await addClient(server, { client_id: clientId, owner: 'pager', name: i % 2 === 0 ? 'Even pager' : 'Odd pager' });
  }

  const { seen, pages } = await allPages(t, server, 'owner=pager', 10);
  t.equal(pages, 3, '25 clients, 10 a page: 3 pages');
  t.same(seen, expected, 'each client once, in client_id order');

  const byOne = await allPages(t, server, 'owner=pager', 1);
  t.same(byOne.seen, expected, 'one a page: the same');
  t.equal(byOne.pages, 25);

  const exact = await allPages(t, server, 'owner=pager', 25);
  t.equal(exact.pages, 1, 'limit equal to the count: one page, no cursor');

  // The filters apply on every page.
  const even = await allPages(t, server, 'owner=pager&name=even', 4);
  t.same(
    even.seen,
    expected.filter((_, i) => i % 2 === 0),
    'filtered pagination: only matches, each once',
  );

  // A cursor from a filtered listing, used without a filter, continues after the same client_id.
  const first = await list(t, server, 'owner=pager&limit=10');
  const rest = await ids(t, server, `limit=200&cursor=${encodeURIComponent(first.next_cursor ?? '')}`);
  t.same(
    rest.filter((id) => id.startsWith('pager-')),
    expected.slice(10),
    'the cursor marks a position, not a query',
  );
  t.ok(rest.includes(ADMIN_ID), 'root-admin (sorts after pager-*) is in the rest: the cursor ignored the old filter');
});

t.test('cursor pagination while clients are added and removed', async (t) => {
  const server = await buildWithAdmin(t);
  const originals: string[] = [];
  for (let i = 0; i < 20; i++) {
    const clientId = `conc-${String(i * 5).padStart(3, '0')}`; // conc-000, conc-005, …, conc-095
    originals.push(clientId);
    await addClient(server, { client_id: clientId, owner: 'conc' });
  }

  const page1 = await list(t, server, 'owner=conc&limit=6');
  const seen = page1.items.map((item) => item.client_id);
  t.same(seen, originals.slice(0, 6), 'page 1');
  const cursor = page1.next_cursor;
  t.type(cursor, 'string');

  // Between pages: new clients before the cursor (conc-000a sorts after conc-000 but before
  // conc-025), in the middle of what is left, and after everything; one original not yet
  // seen is deleted, and so is the client the cursor points at.
  const before = ['conc-000a', 'conc-001', 'conc-024', 'aaa-conc'];
  const after = ['conc-026', 'conc-051', 'conc-099', 'zzz-conc'];
  for (const clientId of [...before, ...after]) await addClient(server, { client_id: clientId, owner: 'conc' });
  t.equal((await server.admin('DELETE', '/admin/clients/conc-060')).statusCode, 204);
  t.equal((await server.admin('DELETE', `/admin/clients/${originals[5]}`)).statusCode, 204, 'the last client of page 1 is deleted');

  let next = cursor;
  let pages = 1;
  while (next !== null) {
    const page: Page = await list(t, server, `owner=conc&limit=6&cursor=${encodeURIComponent(next)}`);
    seen.push(...page.items.map((item) => item.client_id));
    next = page.next_cursor;
    pages += 1;
    if (pages > 20) throw new Error('pagination does not end');
  }

  t.equal(new Set(seen).size, seen.length, 'no client_id seen twice');
  const missing = originals.filter((id) => id !== 'conc-060' && !seen.includes(id));
  t.same(missing, [], 'no original client skipped');
  t.notOk(seen.includes('conc-060'), 'a client deleted before its page is not shown');
  for (const id of after) t.ok(seen.includes(id), `${id}, added after the cursor, is seen`);
  for (const id of before) t.notOk(seen.includes(id), `${id}, added before the cursor, is not (it belongs to a page already read)`);
  t.same(seen, [...seen].sort(), 'still in client_id order');

  // A fresh listing has all of them.
  const fresh = await allPages(t, server, 'owner=conc', 7);
  t.equal(fresh.seen.length, originals.length - 2 + before.length + after.length, 'a new listing sees every current client');
});

t.test('a garbage cursor is a 400', async (t) => {
  const server = await buildWithAdmin(t);
  for (const cursor of [
    'garbage',
    'eyJhZnRlciI6',
    Buffer.from('{"before":"x"}').toString('base64url'),
    Buffer.from('"x"').toString('base64url'),
  ]) {
    const response = await server.admin('GET', `/admin/clients?cursor=${encodeURIComponent(cursor)}`);
    t.equal(response.statusCode, 400, `cursor=${cursor}: 400`);
    t.match(response.headers['content-type'], /^application\/problem\+json/);
    t.match(response.json(), { status: 400, errors: [{ path: '/cursor' }] }, `cursor=${cursor}: names the cursor`);
  }
  // A cursor shaped like ours whose sort value PostgreSQL cannot hold as text (a NUL).
  const nul = Buffer.from(JSON.stringify({ after: 'a', sort: 'name', value: 'x\u0000y' })).toString('base64url');
  const refused = await server.admin('GET', `/admin/clients?sort=name&cursor=${encodeURIComponent(nul)}`);
  t.equal(refused.statusCode, 400, 'a sort value with a NUL: 400');
  t.match(refused.json(), { status: 400, errors: [{ path: '/cursor' }] }, 'a sort value with a NUL: names the cursor');
  // A cursor past the last client is simply an empty page.
  const pastEnd = Buffer.from(JSON.stringify({ after: 'zzzz' })).toString('base64url');
  t.same(await list(t, server, `cursor=${pastEnd}`), { items: [], next_cursor: null }, 'a cursor after everything: empty page');
});

t.test('sort=: each column both ways, pages that keep the order, refusals', async (t) => {
  const server = await buildWithAdmin(t);
  const { database, clock } = server;
  const start = clock.now();
  // Names that differ in case and clients that never expire or were never used: the
  // order must still be total (ties broken by client_id) and pages must not lose a row.
  const rows: Array<{ id: string; name: string; owner: string; expires: number | null; used: number | null }> = [
    { id: 'c-one', name: 'Zulu', owner: 'ann', expires: 5, used: null },
    { id: 'c-two', name: 'alpha', owner: 'bob', expires: null, used: 3 },
    { id: 'c-three', name: 'Mike', owner: 'ann', expires: 2, used: 1 },
    { id: 'c-four', name: 'Mike', owner: 'cy', expires: null, used: null },
    { id: 'c-five', name: 'echo', owner: 'bob', expires: 5, used: 3 },
  ];
  for (const [index, row] of rows.entries()) {
    clock.advance(60_000);
    const response = await server.admin('POST', '/admin/clients', { client_id: row.id, name: row.name, owner: row.owner });
    t.equal(response.statusCode, 201, `${row.id} created`);
    await database.db
      .update(clients)
      .set({
        createdAt: new Date(start + (rows.length - index) * DAY),
        expiresAt: row.expires === null ? null : new Date(start + 100 * DAY + row.expires * DAY),
        lastUsedAt: row.used === null ? null : new Date(start - row.used * DAY),
      })
      .where(eq(clients.clientId, row.id));
  }
  const mine = (seen: string[]) => seen.filter((id) => id !== ADMIN_ID);

  const expected: Record<string, string[]> = {
    client_id: ['c-five', 'c-four', 'c-one', 'c-three', 'c-two'],
    // Names compare as the database's collation has them; the test's names sort the same in C and in en_US.
    created_at: ['c-five', 'c-four', 'c-three', 'c-two', 'c-one'],
    // Never used sorts before every use; the oldest use first.
    last_used_at: ['c-four', 'c-one', 'c-five', 'c-two', 'c-three'],
    // Never expiring sorts after every expiry.
    expires_at: ['c-three', 'c-five', 'c-one', 'c-four', 'c-two'],
    owner: ['c-one', 'c-three', 'c-five', 'c-two', 'c-four'],
  };
  for (const [field, order] of Object.entries(expected)) {
    const ascending = mine(await ids(t, server, `sort=${field}`));
    t.same(ascending, order, `sort=${field}`);
    const descending = mine(await ids(t, server, `sort=-${field}`));
    t.same(descending, [...order].reverse(), `sort=-${field}: the same, reversed`);
    for (const sort of [field, `-${field}`]) {
      const { seen } = await allPages(t, server, `sort=${sort}`, 2);
      t.same(mine(seen), sort === field ? order : [...order].reverse(), `sort=${sort}, two a page: the same order, each once`);
    }
  }
  const byName = mine(await ids(t, server, 'sort=name'));
  t.equal(byName.indexOf('c-four') + 1, byName.indexOf('c-three'), 'equal names: by client_id');
  t.same(mine((await allPages(t, server, 'sort=-name', 1)).seen), mine(await ids(t, server, 'sort=-name')), 'one a page: the same');

  // Filters and sort together, and a page after a change of the row the cursor names.
  t.same(await ids(t, server, 'owner=bob&sort=-created_at'), ['c-two', 'c-five']);
  const first = await list(t, server, 'sort=expires_at&limit=2');
  t.same(
    first.items.map((item) => item.client_id),
    ['c-three', 'c-five'],
  );
  await server.admin('DELETE', '/admin/clients/c-five');
  const rest = await list(t, server, `sort=expires_at&limit=10&cursor=${encodeURIComponent(first.next_cursor ?? '')}`);
  t.same(mine(rest.items.map((item) => item.client_id)), ['c-one', 'c-four', 'c-two'], 'the deleted row’s place still holds');

  for (const sort of ['secret', 'client_secret', '--name', 'name,owner', '-']) {
    const response = await server.admin('GET', `/admin/clients?sort=${encodeURIComponent(sort)}`);
    t.equal(response.statusCode, 400, `sort=${sort}: 400`);
  }
  const other = await server.admin('GET', `/admin/clients?sort=name&cursor=${encodeURIComponent(first.next_cursor ?? '')}`);
  t.equal(other.statusCode, 400, 'a cursor of another sort: 400');
  t.match(other.json(), { errors: [{ path: '/cursor', message: /another sort/ }] });
  const forged = Buffer.from(
    JSON.stringify({ after: 'c-one', sort: 'expires_at', value: "2030-01-01'); drop table clients; --" }),
  ).toString('base64url');
  const refused = await server.admin('GET', `/admin/clients?sort=expires_at&cursor=${forged}`);
  t.equal(refused.statusCode, 400, 'a cursor whose value is no time: 400, not a database error');
});

t.test('last_used_at shows a token at once on the instance that issued it', async (t) => {
  const server = await buildWithAdmin(t);
  await server.app.portier.lastUsed.flush();
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'fresh-one', name: 'Fresh', owner: 'ann' })).statusCode, 201);
  const before = (await server.admin('GET', '/admin/clients/fresh-one')).json() as { last_used_at: string | null };
  t.equal(before.last_used_at, null, 'not yet used');
  server.clock.advance(1_000);
  // The token: one for the admin client, as every admin call of this test gets.
  const asked = server.clock.now();
  await server.tokenFor('admin:read');
  const answered = server.clock.now();
  const detail = (await server.admin('GET', `/admin/clients/${ADMIN_ID}`)).json() as { last_used_at: string | null };
  const shown = Date.parse(detail.last_used_at ?? '');
  t.ok(shown >= asked && shown <= answered, 'the detail shows the token, before any write');
  const listed = (await list(t, server, 'owner=bootstrap')).items.find((item) => item.client_id === ADMIN_ID) as unknown as {
    last_used_at: string | null;
  };
  t.equal(listed.last_used_at, detail.last_used_at, 'and the list');
  const storedAt = async () =>
    (await server.database.db.select({ at: clients.lastUsedAt }).from(clients).where(eq(clients.clientId, ADMIN_ID)))[0]?.at?.toISOString();
  t.not(await storedAt(), detail.last_used_at, 'not written yet');
  await server.app.portier.lastUsed.flush();
  t.equal(await storedAt(), detail.last_used_at, 'then written as shown');
});

t.test('expiring_before: the client or a live credential expires before then; unused_since: not used since', async (t) => {
  const server = await buildWithAdmin(t);
  const now = server.clock.now();
  const at = (days: number) => new Date(now + days * DAY).toISOString();
  const create = async (client_id: string, extra: Record<string, unknown> = {}) => {
    const response = await server.admin('POST', '/admin/clients', { client_id, name: client_id, owner: 'lifecycle', ...extra });
    t.equal(response.statusCode, 201, `${client_id} created`);
  };
  const addSecret = async (clientId: string, days: number) => {
    const response = await server.admin('POST', `/admin/clients/${clientId}/credentials`, { kind: 'secret', expires_at: at(days) });
    t.equal(response.statusCode, 201, `${clientId}: a secret expiring in ${days} days`);
    return (response.json() as { id: string }).id;
  };
  await create('own-expiry', { expires_at: at(5) });
  await create('credential-expiry');
  await addSecret('credential-expiry', 20);
  await create('removed-credential');
  const removed = await addSecret('removed-credential', 3);
  t.equal((await server.admin('DELETE', `/admin/clients/removed-credential/credentials/${removed}`)).statusCode, 204);
  await create('far-credential');
  await addSecret('far-credential', 60);
  await create('already-expired', { expires_at: at(1) });
  await server.database.db
    .update(clients)
    .set({ expiresAt: new Date(now - DAY) })
    .where(eq(clients.clientId, 'already-expired'));

  const cases: Array<[string, string[]]> = [
    [`expiring_before=${at(7)}`, ['own-expiry']],
    [`expiring_before=${at(30)}`, ['credential-expiry', 'own-expiry']],
    [`expiring_before=${at(90)}`, ['credential-expiry', 'far-credential', 'own-expiry']],
  ];
  for (const [query, expected] of cases) t.same(await ids(t, server, `owner=lifecycle&${query}`), expected, `?${query}`);

  // Use: as dormancy counts it, the last use, or the creation of a client never used.
  await create('used-long-ago');
  await create('used-lately');
  await create('never-used-old');
  const set = async (clientId: string, values: { lastUsedAt?: Date; createdAt?: Date }) => {
    await server.database.db.update(clients).set(values).where(eq(clients.clientId, clientId));
  };
  await set('used-long-ago', { lastUsedAt: new Date(now - 100 * DAY), createdAt: new Date(now - 200 * DAY) });
  await set('used-lately', { lastUsedAt: new Date(now - DAY), createdAt: new Date(now - 200 * DAY) });
  await set('never-used-old', { createdAt: new Date(now - 100 * DAY) });
  t.same(await ids(t, server, `owner=lifecycle&unused_since=${at(-90)}`), ['never-used-old', 'used-long-ago'], 'unused for 90 days');
  t.same(await ids(t, server, `owner=lifecycle&unused_since=${at(-150)}`), [], 'unused for 150 days: none');

  for (const name of ['expiring_before', 'unused_since']) {
    const bad = await server.admin('GET', `/admin/clients?${name}=yesterday`);
    t.equal(bad.statusCode, 400, `${name} that is no date-time: 400`);
  }
});
