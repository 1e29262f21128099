import { and, count, eq, sql, sum } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import t, { type Test } from 'tap';
import { generateSelfIdentifyingSecret, readPresentedSecret } from '../../src/clients/secrets.js';
import { auditEvents, clientCredentials, clientGrants, clientIpRanges, clients, signingKeys } from '../../src/db/schema.js';
import { ADMIN_ID, ADMIN_SECRET, basicAuth, buildWithAdmin, eventually, openBudgets, postToken } from '../helpers.js';

// The audit trail: one event per change made through the admin API, naming who made it
// (the admin's client_id and token sub) and what changed; refused token requests with
// their real reason, throttled; the /admin/audit-events filters and cursor; and that a
// change which fails leaves neither an event nor half of itself behind.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

interface AuditEvent {
  id: string;
  at: string;
  action: string;
  actor: { client_id: string | null; sub: string | null; ip: string | null };
  client_id: string | null;
  details: Record<string, unknown>;
  count: number;
}

interface Page {
  items: AuditEvent[];
  next_cursor: string | null;
}

const EVENTS = { id: 'events', name: 'Events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };

async function page(t: Test, server: Server, query: Record<string, string> = {}): Promise<Page> {
  const response = await server.admin('GET', `/admin/audit-events?${new URLSearchParams(query).toString()}`);
  t.equal(response.statusCode, 200, `GET /admin/audit-events?${new URLSearchParams(query).toString()}`);
  return response.json() as Page;
}

/** Every event matching `query`, newest first, following the cursor. */
async function allEvents(t: Test, server: Server, query: Record<string, string> = {}, limit = 200): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages += 1) {
    const result: Page = await page(t, server, { ...query, limit: String(limit), ...(cursor === null ? {} : { cursor }) });
    events.push(...result.items);
    cursor = result.next_cursor;
    if (cursor === null) break;
  }
  return events;
}

async function createClient(t: Test, server: Server, body: Record<string, unknown>): Promise<{ clientId: string; secret: string }> {
  const response = await server.admin('POST', '/admin/clients', { name: 'Client', owner: 'user-1', ...body });
  t.equal(response.statusCode, 201, 'client created');
  const created = response.json() as { client_id: string; client_secret: string };
  return { clientId: created.client_id, secret: created.client_secret };
}

function tokenRequest(server: Server, clientId: string, secret: string) {
  return postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, secret) });
}

/** The raw audit table, as JSON: what an operator with database access would see. */
async function auditTableJson(server: Server): Promise<string> {
  return JSON.stringify(await server.database.db.select().from(auditEvents));
}

t.test('one event per change, naming the admin, the client and what changed; no secret anywhere', async (t) => {
  const server = await buildWithAdmin(t);
  const { db } = server.database;
  const sub = decodeJwt(server.token).sub;
  t.type(sub, 'string', 'the admin token has a sub');
  const [mark] = (await page(t, server, { limit: '1' })).items;
  const startId = Number(mark?.id ?? 0);

  const secrets: string[] = [ADMIN_SECRET];
  const hashes = new Set<string>();
  const collectHashes = async () => {
    for (const row of await db.select({ hash: clientCredentials.hash }).from(clientCredentials))
      if (row.hash !== null) hashes.add(row.hash);
  };

  t.equal((await server.admin('POST', '/admin/services', EVENTS)).statusCode, 201);
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'audited',
    name: 'Before',
    owner: 'user-7',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.equal(created.statusCode, 201);
  secrets.push((created.json() as { client_secret: string }).client_secret);
  await collectHashes();

  const patched = await server.admin('PATCH', '/admin/clients/audited', {
    name: 'After',
    roles: ['reader'],
    grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }],
    description: '', // unchanged: must not appear among the changes
  });
  t.equal(patched.statusCode, 200);
  t.equal((await server.admin('POST', '/admin/clients/audited/disable')).statusCode, 200);
  t.equal((await server.admin('POST', '/admin/clients/audited/disable')).statusCode, 200, 'disabling again: no change');
  t.equal((await server.admin('POST', '/admin/clients/audited/enable')).statusCode, 200);
  const regenerated = await server.admin('POST', '/admin/clients/audited/secret', { previous_secret_valid_for: 60 });
  t.equal(regenerated.statusCode, 200);
  secrets.push((regenerated.json() as { client_secret: string }).client_secret);
  await collectHashes();
  // A token request with the new secret, and one with a wrong secret (its text must not be kept either).
  t.equal((await tokenRequest(server, 'audited', secrets.at(-1) ?? '')).statusCode, 200);
  const wrongSecret = 'portier_cs_this-is-not-the-secret-0123456789';
  secrets.push(wrongSecret);
  t.equal((await tokenRequest(server, 'audited', wrongSecret)).statusCode, 401);

  t.equal(
    (await server.admin('PATCH', '/admin/services/events', { name: 'Events v2', scopes: ['events:read', 'events:write', 'events:admin'] }))
      .statusCode,
    200,
  );
  t.equal((await server.admin('POST', '/admin/keys/rotate')).statusCode, 202, 'a key rotation, scheduled');
  t.equal((await server.admin('DELETE', '/admin/clients/audited')).statusCode, 204);
  t.equal(
    (await server.admin('POST', '/admin/services', { id: 'doomed', name: 'Doomed', audience: 'urn:example:doomed' })).statusCode,
    201,
  );
  t.equal((await server.admin('DELETE', '/admin/services/doomed')).statusCode, 204);

  // The wrong secret's denial is written in the background: wait for it.
  await eventually(
    () => page(t, server, { action: 'token.denied' }),
    (result) => result.items.length > 0,
    5000,
  );

  const events = (await allEvents(t, server)).filter((event) => Number(event.id) > startId).reverse();
  const changes = events.filter((event) => event.action !== 'token.denied');
  t.same(
    changes.map((event) => event.action),
    [
      'service.created',
      'client.created',
      'client.updated',
      'client.disabled',
      'client.enabled',
      'client.secret_regenerated',
      'service.updated',
      'key.scheduled',
      'client.deleted',
      'service.created',
      'service.deleted',
    ],
    'exactly one event per change, in order (the no-op disable wrote none)',
  );
  for (const event of changes) {
    t.equal(event.actor.client_id, ADMIN_ID, `${event.action}: actor.client_id is the admin`);
    t.equal(event.actor.sub, sub, `${event.action}: actor.sub is the admin token's sub`);
    t.equal(event.actor.ip, '127.0.0.1', `${event.action}: actor.ip`);
    t.equal(event.count, 1, `${event.action}: count 1`);
    t.ok(!Number.isNaN(Date.parse(event.at)), `${event.action}: at is a date`);
    if (event.action.startsWith('client.')) t.equal(event.client_id, 'audited', `${event.action}: names the client`);
  }
  const byAction = (action: string) => changes.filter((event) => event.action === action);

  const updated = byAction('client.updated')[0];
  t.same(
    updated?.details.changes,
    {
      name: { from: 'Before', to: 'After' },
      roles: { from: [], to: ['reader'] },
      grants: {
        from: [{ service: 'events', scopes: ['events:read'] }],
        to: [{ service: 'events', scopes: ['events:read', 'events:write'] }],
      },
    },
    'client.updated: exactly the changed fields, with from and to',
  );
  t.match(byAction('client.created')[0]?.details, {
    name: 'Before',
    owner: 'user-7',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  t.match(byAction('client.secret_regenerated')[0]?.details, { previous_secret_valid_until: String });
  const serviceUpdated = byAction('service.updated')[0];
  t.equal(serviceUpdated?.details.service, 'events', 'service.updated: names the service');
  t.same(
    serviceUpdated?.details.changes,
    {
      name: { from: 'Events', to: 'Events v2' },
      scopes: { from: ['events:read', 'events:write'], to: ['events:read', 'events:write', 'events:admin'] },
    },
    'service.updated: the changed fields, with from and to',
  );
  t.match(byAction('service.created')[0]?.details, { service: 'events', audience: EVENTS.audience });
  t.match(byAction('service.deleted')[0]?.details, { service: 'doomed' });
  const keys = (await server.admin('GET', '/admin/keys')).json() as { items: Array<{ kid: string; status: string }> };
  t.equal(
    byAction('key.scheduled')[0]?.details.kid,
    keys.items.find((key) => key.status === 'next')?.kid,
    'key.scheduled names the next kid',
  );

  // No secret, hash or private key: not in what the API shows, not in the table itself.
  const privateKeys = (await db.select({ privateKey: signingKeys.privateKey }).from(signingKeys)).map((row) => {
    const jwk = JSON.parse(row.privateKey) as { d: string };
    return jwk.d;
  });
  t.ok(hashes.size >= 3, 'hashes collected');
  const apiJson = JSON.stringify(await allEvents(t, server));
  const tableJson = await auditTableJson(server);
  for (const [where, json] of [
    ['API', apiJson],
    ['table', tableJson],
  ] as const) {
    for (const secret of secrets) t.notOk(json.includes(secret), `${where}: no client secret`);
    for (const hash of hashes) t.notOk(json.includes(hash), `${where}: no secret hash`);
    for (const d of privateKeys) t.notOk(json.includes(d), `${where}: no private signing key`);
    t.notOk(json.includes('$argon2'), `${where}: nothing that looks like an argon2 hash`);
    // A field, not the value: "auth_method": "client_secret" names a method, not a secret.
    t.notOk(/"client_secret":/.test(json), `${where}: no client_secret field`);
    t.notOk(/portier_cs_|portier_cred_/.test(json), `${where}: nothing with the secret prefix`);
  }
});

t.test('refused token requests: token.denied events with the real reason', async (t) => {
  const server = await buildWithAdmin(t);
  t.equal((await server.admin('POST', '/admin/services', EVENTS)).statusCode, 201);
  const client = await createClient(t, server, { client_id: 'denied-client', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const fenced = await createClient(t, server, {
    client_id: 'fenced-client',
    ip_ranges: ['192.0.2.0/24'],
    grants: [{ service: 'events', scopes: [] }],
  });

  const responses = [
    // A well-formed wrong secret of the client's credential (a wrong checksum is refused before the client is looked up).
    await tokenRequest(server, client.clientId, generateSelfIdentifyingSecret(credentialOf(client.secret))),
    await tokenRequest(server, 'nobody-here', client.secret),
    await tokenRequest(server, fenced.clientId, fenced.secret),
  ];
  t.equal((await server.admin('POST', '/admin/clients/denied-client/disable')).statusCode, 200);
  responses.push(await tokenRequest(server, client.clientId, client.secret));

  for (const response of responses) {
    t.equal(response.statusCode, 401, 'invalid_client');
    t.same(response.json(), { error: 'invalid_client', error_description: 'client authentication failed' }, 'the caller learns nothing');
  }

  const denied = await eventually(
    () => allEvents(t, server, { action: 'token.denied' }),
    (events) => events.length >= 4,
    5000,
  );
  t.equal(denied.length, 4, 'one event per refusal');
  const reasonFor = (clientId: string) => denied.filter((event) => event.client_id === clientId).map((event) => event.details.reason);
  const credential = credentialOf(client.secret);
  t.same(reasonFor('denied-client').sort(), [`client is disabled (credential ${credential})`, `wrong secret (credential ${credential})`]);
  // A client_id that names no client is kept as a fingerprint only: it could be anything.
  const unknown = denied.filter((event) => event.client_id === null);
  t.same(
    unknown.map((event) => event.details.reason),
    ['unknown client'],
  );
  t.match(unknown[0]?.details.presented_client_id, { fingerprint: /^[0-9a-f]{12}$/, length: 'nobody-here'.length });
  t.notOk(JSON.stringify(denied).includes('nobody-here'), 'never the raw client_id');
  t.same(reasonFor('fenced-client'), [`caller 127.0.0.1 is outside the client's IP ranges (credential ${credentialOf(fenced.secret)})`]);
  for (const event of denied) {
    t.equal(event.details.error, 'invalid_client', `${String(event.details.reason)}: public error`);
    t.equal(event.actor.ip, '127.0.0.1', `${String(event.details.reason)}: caller ip`);
    t.equal(event.actor.client_id, event.client_id, `${String(event.details.reason)}: the caller is the client it named`);
    t.equal(event.count, 1);
  }
  const json = JSON.stringify(denied);
  t.notOk(json.includes(client.secret), 'no presented secret in the events');
  t.notOk(json.includes(fenced.secret), 'no presented secret in the events');

  // Filtering by client_id finds a client's refusals next to its changes.
  const forClient = await allEvents(t, server, { client_id: 'denied-client' });
  t.same(
    forClient.map((event) => event.action).sort(),
    ['client.created', 'client.disabled', 'token.denied', 'token.denied'],
    'changes and refusals of one client',
  );
});

t.test('throttling: a flood of identical refusals writes a few rows that count them all', async (t) => {
  // The failure budgets would answer most of this flood with 429 (and hold each back);
  // here they are wide open, to see the audit trail's own throttling.
  const server = await buildWithAdmin(t, {
    config: { protection: openBudgets({ throttleDelayMs: 0 }) },
  });
  // A client that exists, so that its client_id is audited as it is (not as a fingerprint).
  t.equal((await server.admin('POST', '/admin/clients', { client_id: 'flood-client', name: 'Flood', owner: 'user-1' })).statusCode, 201);
  const { db } = server.database;
  const rowsFor = async (clientId: string) => {
    const [row] = await db
      .select({ rows: count(), total: sum(auditEvents.count) })
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'token.denied'), eq(auditEvents.clientId, clientId)));
    return { rows: row?.rows ?? 0, total: Number(row?.total ?? 0) };
  };

  const FLOOD = 200;
  const BATCH = 10;
  for (let sent = 0; sent < FLOOD; sent += BATCH) {
    const batch = await Promise.all(Array.from({ length: BATCH }, () => tokenRequest(server, 'flood-client', 'guess')));
    for (const response of batch) if (response.statusCode !== 401) t.fail(`unexpected ${response.statusCode}`);
  }
  // A different reason from the same caller is a distinct denial with its own row.
  t.equal((await tokenRequest(server, ADMIN_ID, 'wrong')).statusCode, 401);

  // The first occurrence is written in the background.
  const before = await eventually(
    () => rowsFor('flood-client'),
    (result) => result.rows >= 1,
    5000,
  );
  t.ok(before.rows >= 1, 'the first refusal is written');
  t.ok(before.rows <= 2, `far fewer rows than requests (${before.rows} for ${FLOOD})`);

  await server.app.portier.denials.flush();
  const after = await rowsFor('flood-client');
  t.ok(after.rows <= 3, `still a handful of rows after the flush (${after.rows})`);
  t.equal(after.total, FLOOD, 'the rows account for every refusal');

  const events = await allEvents(t, server, { action: 'token.denied', client_id: 'flood-client' });
  t.equal(events.length, after.rows, 'the API shows the same rows');
  t.ok(
    events.some((event) => event.count > 1),
    'a row carries the repeat count',
  );
  t.equal(
    events.reduce((total, event) => total + event.count, 0),
    FLOOD,
    'counts add up through the API too',
  );
  for (const event of events) t.equal(event.details.reason, 'wrong secret');

  const other = await eventually(
    () => rowsFor(ADMIN_ID),
    (result) => result.rows >= 1,
    5000,
  );
  t.equal(other.total, 1, 'the distinct denial has its own row');
});

t.test('GET /admin/audit-events: filters', async (t) => {
  const server = await buildWithAdmin(t);
  t.equal((await server.admin('POST', '/admin/services', EVENTS)).statusCode, 201);
  const second = await createClient(t, server, {
    client_id: 'second-admin',
    grants: [{ service: 'portier-admin', scopes: ['admin:write'] }],
  });
  for (const id of ['alpha', 'beta', 'gamma']) await createClient(t, server, { client_id: id });
  t.equal((await server.admin('PATCH', '/admin/clients/alpha', { name: 'Alpha' })).statusCode, 200);
  t.equal((await server.admin('POST', '/admin/clients/beta/disable')).statusCode, 200);
  const secondToken = await server.tokenFor('admin:write', second.clientId, second.secret);
  const secondSub = decodeJwt(secondToken).sub;
  t.equal(
    (await server.admin('POST', '/admin/clients', { client_id: 'delta', name: 'Delta', owner: 'user-2' }, secondToken)).statusCode,
    201,
  );
  t.equal((await server.admin('PATCH', '/admin/clients/alpha', { name: 'Alpha 2' }, secondToken)).statusCode, 200);

  const all = await allEvents(t, server);
  t.ok(all.length >= 10, 'events exist');

  const created = await allEvents(t, server, { action: 'client.created' });
  t.ok(
    created.every((event) => event.action === 'client.created'),
    'action: only that action',
  );
  t.same(
    created.map((event) => event.client_id).sort(),
    ['alpha', 'beta', 'delta', 'gamma', ADMIN_ID, 'second-admin'].sort(),
    'action: every client.created event',
  );

  const alpha = await allEvents(t, server, { client_id: 'alpha' });
  t.same(
    alpha.map((event) => event.action),
    ['client.updated', 'client.updated', 'client.created'],
    'client_id: that client, newest first',
  );
  t.same((alpha[0]?.details.changes as Record<string, unknown> | undefined)?.name, { from: 'Alpha', to: 'Alpha 2' });

  const bySecond = await allEvents(t, server, { actor_client_id: 'second-admin' });
  t.same(
    bySecond.map((event) => [event.action, event.client_id]),
    [
      ['client.updated', 'alpha'],
      ['client.created', 'delta'],
    ],
    'actor_client_id',
  );
  t.ok(
    bySecond.every((event) => event.actor.sub === secondSub),
    "the second admin's sub",
  );
  const combined = await allEvents(t, server, { actor_client_id: ADMIN_ID, client_id: 'alpha' });
  t.same(
    combined.map((event) => event.action),
    ['client.updated', 'client.created'],
    'filters combine',
  );
  // actor: part of the name the trail shows (here an admin client's client_id), any case, wildcards literal.
  t.same(
    (await allEvents(t, server, { actor: 'SECOND-ad' })).map((event) => [event.action, event.client_id]),
    bySecond.map((event) => [event.action, event.client_id]),
    'actor: by the name shown, in part, any case',
  );
  t.same(await allEvents(t, server, { actor: '%' }), [], 'actor: % is a plain character');
  t.same(await allEvents(t, server, { actor: 'nobody' }), [], 'actor: no match');
  t.same(await allEvents(t, server, { client_id: 'no-such-client' }), [], 'no match: empty');
  t.same(await allEvents(t, server, { action: 'no.such.action' }), [], 'unknown action: empty');

  // since/until around the creation of beta.
  const ascending = [...all].reverse();
  const pivot = ascending.find((event) => event.client_id === 'beta' && event.action === 'client.created');
  t.ok(pivot, 'pivot event');
  const pivotAt = Date.parse(pivot?.at ?? '');
  const since = await allEvents(t, server, { since: new Date(pivotAt).toISOString() });
  t.ok(
    since.every((event) => Date.parse(event.at) >= pivotAt),
    'since: nothing earlier',
  );
  t.ok(
    since.some((event) => event.id === pivot?.id),
    'since: includes an event at that instant',
  );
  t.ok(
    since.some((event) => event.client_id === 'delta'),
    'since: includes later events',
  );
  // An event's own `at` (shown to the millisecond) as `until` includes it.
  const until = await allEvents(t, server, { until: pivot?.at ?? '' });
  t.ok(
    until.every((event) => Date.parse(event.at) <= pivotAt),
    'until: nothing later',
  );
  t.ok(
    until.some((event) => event.id === pivot?.id),
    'until: includes an event at that instant',
  );
  t.ok(
    until.some((event) => event.client_id === ADMIN_ID),
    'until: includes earlier events',
  );
  t.notOk(
    until.some((event) => event.client_id === 'delta'),
    'until: excludes later events',
  );
  const window = await allEvents(t, server, { since: pivot?.at ?? '', until: pivot?.at ?? '' });
  t.ok(
    window.some((event) => event.id === pivot?.id),
    'since = until = its at: the pivot',
  );
  t.ok(
    window.every((event) => event.at === pivot?.at),
    'since + until: only that instant',
  );
  t.same(await allEvents(t, server, { since: new Date(Date.now() + 3_600_000).toISOString() }), [], 'since in the future: empty');
  t.same(await allEvents(t, server, { until: '2000-01-01T00:00:00Z' }), [], 'until in the past: empty');

  for (const query of ['since=yesterday', 'until=2024-13-45T00:00:00Z', 'unknown=1', 'limit=0', 'limit=201', 'limit=ten']) {
    const response = await server.admin('GET', `/admin/audit-events?${query}`);
    t.equal(response.statusCode, 400, `${query}: 400`);
    t.match(response.headers['content-type'], /^application\/problem\+json/);
  }
});

t.test('GET /admin/audit-events: until the last millisecond of year 9999 is every event, not a 500', async (t) => {
  // Its end, one millisecond later, is in year 10000: sent to PostgreSQL as +010000-…, which it refuses.
  const server = await buildWithAdmin(t);
  const all = await allEvents(t, server);
  t.ok(all.length > 0, 'events exist');
  for (const until of ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999+00:00', '9999-12-31T23:59:59.9999Z']) {
    t.same(await allEvents(t, server, { until }), all, `until=${until}: every event`);
    t.same(await allEvents(t, server, { since: '0001-01-01T00:00:00Z', until }), all, `since=0001-01-01, until=${until}: every event`);
  }
});

t.test('GET /admin/audit-events: cursor pagination, newest first, no duplicates', async (t) => {
  const server = await buildWithAdmin(t);
  for (let i = 0; i < 7; i += 1) await createClient(t, server, { client_id: `paged-${i}` });
  const everything = (await page(t, server, { limit: '200' })).items;
  t.ok(everything.length >= 8, 'enough events');
  const ids = everything.map((event) => Number(event.id));
  t.same(
    ids,
    [...ids].sort((a, b) => b - a),
    'newest first',
  );

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let wroteMidway = false;
  do {
    const result: Page = await page(t, server, { limit: '3', ...(cursor === null ? {} : { cursor }) });
    t.ok(result.items.length <= 3, 'at most limit items');
    seen.push(...result.items.map((event) => event.id));
    cursor = result.next_cursor;
    pages += 1;
    if (!wroteMidway) {
      // An event written while paging never pushes older ones onto a later page twice.
      await createClient(t, server, { client_id: 'written-while-paging' });
      wroteMidway = true;
    }
  } while (cursor !== null && pages < 50);
  t.equal(cursor, null, 'the last page has next_cursor null');
  t.equal(new Set(seen).size, seen.length, 'no duplicates across pages');
  t.same(
    seen,
    everything.map((event) => event.id),
    'the pages together are exactly the unpaged list',
  );
  const seenIds = seen.map(Number);
  t.same(
    seenIds,
    [...seenIds].sort((a, b) => b - a),
    'newest first across pages',
  );

  // An exact multiple of the page size ends with next_cursor null, not an empty page.
  const created = await allEvents(t, server, { action: 'client.created' });
  const exact = await page(t, server, { action: 'client.created', limit: String(created.length) });
  t.equal(exact.items.length, created.length);
  t.equal(exact.next_cursor, null, 'no cursor when nothing is left');

  for (const cursorValue of ['garbage', '-1', '1.5', '12345678901234567890', "1' OR '1'='1", '0x10', 'a'.repeat(500)]) {
    const response = await server.admin('GET', `/admin/audit-events?cursor=${encodeURIComponent(cursorValue)}`);
    t.equal(response.statusCode, 400, `cursor ${JSON.stringify(cursorValue.slice(0, 30))}: 400`);
    t.match(response.headers['content-type'], /^application\/problem\+json/);
  }
});

t.test('atomicity: a failed change leaves no event and no half-written row', async (t) => {
  const server = await buildWithAdmin(t);
  const { db } = server.database;
  t.equal((await server.admin('POST', '/admin/services', EVENTS)).statusCode, 201);
  await createClient(t, server, { client_id: 'steady', name: 'Steady', grants: [{ service: 'events', scopes: ['events:read'] }] });
  const before = (await server.admin('GET', '/admin/clients/steady')).json() as Record<string, unknown>;

  t.test('PATCH with a grant to an unknown service: 400, nothing changed, no event', async (t) => {
    const response = await server.admin('PATCH', '/admin/clients/steady', {
      name: 'Changed',
      roles: ['x'],
      grants: [
        { service: 'events', scopes: ['events:read', 'events:write'] },
        { service: 'no-such-service', scopes: [] },
      ],
    });
    t.equal(response.statusCode, 400);
    t.ok(
      (response.json() as { errors: Array<{ path: string }> }).errors.some((error) => error.path === '/grants/1/service'),
      'names the grant',
    );
    t.same((await server.admin('GET', '/admin/clients/steady')).json(), before, 'the client is unchanged, updated_at included');
    t.same(await allEvents(t, server, { action: 'client.updated', client_id: 'steady' }), [], 'no client.updated event');
    const badScope = await server.admin('PATCH', '/admin/clients/steady', {
      name: 'Changed',
      grants: [{ service: 'events', scopes: ['events:nope'] }],
    });
    t.equal(badScope.statusCode, 400, 'unknown scope: 400');
    t.same((await server.admin('GET', '/admin/clients/steady')).json(), before, 'still unchanged');
    t.same(await allEvents(t, server, { action: 'client.updated', client_id: 'steady' }), [], 'still no event');
  });

  t.test('create with a duplicate client_id: 409 and one client.created', async (t) => {
    const again = await server.admin('POST', '/admin/clients', {
      client_id: 'steady',
      name: 'Impostor',
      owner: 'user-9',
      ip_ranges: ['192.0.2.0/24'],
    });
    t.equal(again.statusCode, 409);
    t.same((await server.admin('GET', '/admin/clients/steady')).json(), before, 'the existing client is untouched');
    t.equal((await allEvents(t, server, { action: 'client.created', client_id: 'steady' })).length, 1, 'one client.created');
    const dupService = await server.admin('POST', '/admin/services', { ...EVENTS, audience: 'https://elsewhere.example' });
    t.equal(dupService.statusCode, 409);
    t.equal((await allEvents(t, server, { action: 'service.created' })).length, 1, 'one service.created');
  });

  t.test('two concurrent creates of one client_id: one 201, one 409, one client, no orphans', async (t) => {
    for (const id of ['racer-1', 'racer-2', 'racer-3']) {
      const body = {
        client_id: id,
        name: 'Racer',
        owner: 'user-3',
        grants: [{ service: 'events', scopes: ['events:read'] }],
        ip_ranges: ['127.0.0.1/32'],
      };
      const responses = await Promise.all([server.admin('POST', '/admin/clients', body), server.admin('POST', '/admin/clients', body)]);
      t.same(responses.map((response) => response.statusCode).sort(), [201, 409], `${id}: one 201, one 409`);
      const winner = responses.find((response) => response.statusCode === 201)?.json() as {
        client_secret: string;
        service_account: { id: string };
      };
      const loser = responses.find((response) => response.statusCode === 409);
      t.match(loser?.headers['content-type'], /^application\/problem\+json/, `${id}: the loser gets a problem`);

      const [rows] = await db.select({ n: count() }).from(clients).where(eq(clients.clientId, id));
      t.equal(rows?.n, 1, `${id}: one row in clients`);
      const uuid = winner.service_account.id;
      const [secrets] = await db.select({ n: count() }).from(clientCredentials).where(eq(clientCredentials.clientUuid, uuid));
      const [grants] = await db.select({ n: count() }).from(clientGrants).where(eq(clientGrants.clientUuid, uuid));
      const [ranges] = await db.select({ n: count() }).from(clientIpRanges).where(eq(clientIpRanges.clientUuid, uuid));
      t.same([secrets?.n, grants?.n, ranges?.n], [1, 1, 1], `${id}: one secret, one grant, one IP range`);
      t.equal((await allEvents(t, server, { action: 'client.created', client_id: id })).length, 1, `${id}: one client.created event`);
      // The winner's secret is the one that works.
      t.equal((await tokenRequest(server, id, winner.client_secret)).statusCode, 200, `${id}: the winner's secret works`);
    }

    const orphans = async (table: typeof clientCredentials | typeof clientGrants | typeof clientIpRanges) => {
      const [row] = await db
        .select({ n: count() })
        .from(table)
        .where(sql`${table.clientUuid} not in (select ${clients.id} from ${clients})`);
      return row?.n;
    };
    t.equal(await orphans(clientCredentials), 0, 'no orphan client_credentials');
    t.equal(await orphans(clientGrants), 0, 'no orphan client_grants');
    t.equal(await orphans(clientIpRanges), 0, 'no orphan client_ip_ranges');
    const [clientCount] = await db.select({ n: count() }).from(clients);
    const [createdCount] = await db.select({ n: count() }).from(auditEvents).where(eq(auditEvents.action, 'client.created'));
    const [deletedCount] = await db.select({ n: count() }).from(auditEvents).where(eq(auditEvents.action, 'client.deleted'));
    t.equal(clientCount?.n, (createdCount?.n ?? 0) - (deletedCount?.n ?? 0), 'every client has exactly one client.created event');
  });
});

/** The credential id a self-identifying secret names. */
function credentialOf(secret: string): string {
  const read = readPresentedSecret(secret);
  if (read.form !== 'named') throw new Error('not a self-identifying secret');
  return read.credentialId;
}
