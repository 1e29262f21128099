import { CloudEvent } from 'cloudevents';
import { eq } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { pruneExpired } from '../../src/db/retention.js';
import { auditEvents } from '../../src/db/schema.js';
import { ADMIN_ID, buildWithAdmin, eventually, ISSUER } from '../helpers.js';

// The event stream: every audit event is also a CloudEvent, written in the transaction of
// the change (so a change that fails leaves none), served oldest first by cursor at
// /admin/events, filtered by type, and pruned with the audit trail.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

interface Page {
  items: Array<Record<string, unknown> & { id: string; type: string; data: Record<string, unknown> }>;
  next_cursor: string | null;
}

async function events(t: Test, server: Server, query: Record<string, string> = {}): Promise<Page> {
  const response = await server.admin('GET', `/admin/events?${new URLSearchParams(query).toString()}`);
  t.equal(response.statusCode, 200, 'GET /admin/events');
  return response.json() as Page;
}

/**
 * The page once it holds `count` events: an event is served once every transaction older
 * than it has ended on the whole PostgreSQL server (other tests' too), so it may come a
 * moment after its change.
 */
async function eventsWhen(t: Test, server: Server, query: Record<string, string>, count: number): Promise<Page> {
  return eventually(
    () => events(t, server, query),
    (page) => page.items.length >= count,
    20_000,
  );
}

t.test('every change is a CloudEvent, oldest first, by cursor', async (t) => {
  const server = await buildWithAdmin(t);
  const start = await events(t, server);
  const created = await server.admin('POST', '/admin/clients', { client_id: 'eaglebe', name: 'Eaglebe', owner: 'user-1' });
  t.equal(created.statusCode, 201);
  t.equal((await server.admin('POST', '/admin/clients/eaglebe/disable')).statusCode, 200);

  const page = await eventsWhen(t, server, start.next_cursor === null ? {} : { after: start.next_cursor }, 2);
  t.same(
    page.items.map((event) => event.type),
    ['dev.portier.client.created', 'dev.portier.client.disabled'],
  );
  const [first] = page.items;
  // The cloudevents package's own check of every attribute (strict mode throws on a bad one).
  const parsed = new CloudEvent(first as never);
  t.equal(parsed.specversion, '1.0');
  t.equal(parsed.source, ISSUER);
  t.equal(parsed.subject, 'eaglebe');
  t.equal(parsed.datacontenttype, 'application/json');
  t.match(first?.data, { action: 'client.created', client_id: 'eaglebe', actor: { client_id: ADMIN_ID } });
  t.notMatch(JSON.stringify(page), /"client_secret":/, 'no secret in an event');

  // Nothing new: the same cursor back, and an empty page.
  const again = await events(t, server, { after: page.next_cursor ?? '' });
  t.same(again.items, []);
  t.equal(again.next_cursor, page.next_cursor);

  // Paging one at a time gives the same events.
  const one = await events(t, server, { ...(start.next_cursor === null ? {} : { after: start.next_cursor }), limit: '1' });
  t.equal(one.items.length, 1);
  const two = await events(t, server, { after: one.next_cursor ?? '', limit: '1' });
  t.same(
    [one.items[0]?.id, two.items[0]?.id],
    page.items.map((event) => event.id),
  );
});

t.test('types filter by type, prefix and *; bad ones are 400', async (t) => {
  const server = await buildWithAdmin(t);
  await server.admin('POST', '/admin/services', { id: 'ledger', name: 'Ledger', audience: 'https://ledger.example', scopes: ['read'] });
  await server.admin('POST', '/admin/clients', { client_id: 'eaglebe', name: 'Eaglebe', owner: 'user-1' });
  const clientsOnly = await eventsWhen(t, server, { types: 'dev.portier.client.*' }, 2);
  t.ok(clientsOnly.items.length > 0 && clientsOnly.items.every((event) => event.type.startsWith('dev.portier.client.')));
  const exact = await eventsWhen(t, server, { types: 'dev.portier.service.created, dev.portier.nothing.here' }, 1);
  t.same(
    exact.items.map((event) => event.type),
    ['dev.portier.service.created'],
  );
  t.ok((await events(t, server, { types: '*' })).items.length >= 2);
  for (const types of ['client.created', 'dev.portier.client_%', 'dev.portier.']) {
    const response = await server.admin('GET', `/admin/events?types=${encodeURIComponent(types)}`);
    t.equal(response.statusCode, 400, types);
  }
  for (const after of ['12', 'x.1', '1.2.3', '99999999999999999999999.1']) {
    t.equal((await server.admin('GET', `/admin/events?after=${after}`)).statusCode, 400, after);
  }
});

t.test('a change that fails leaves no event; a rolled-back transaction none either', async (t) => {
  const server = await buildWithAdmin(t);
  const before = await events(t, server);
  // A grant of a service that does not exist: refused, nothing written.
  const refused = await server.admin('POST', '/admin/clients', {
    client_id: 'nope',
    name: 'Nope',
    owner: 'user-1',
    grants: [{ service: 'missing', scopes: [] }],
  });
  t.equal(refused.statusCode, 400);
  await server.database.db
    .transaction(async (tx) => {
      await tx.insert(auditEvents).values({ action: 'client.created', clientId: 'ghost' });
      throw new Error('roll back');
    })
    .catch(() => undefined);
  const after = await events(t, server, before.next_cursor === null ? {} : { after: before.next_cursor });
  t.same(after.items, []);
});

t.test('an event committed after a later one is not skipped by the cursor', async (t) => {
  const server = await buildWithAdmin(t);
  if (server.database.driver === 'pglite') {
    t.pass('PGlite runs one transaction at a time: no later transaction commits first');
    return;
  }
  const { db } = server.database;
  const start = await events(t, server);
  // A transaction that writes an event and stays open while another commits one.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let written: () => void = () => undefined;
  const slowWrote = new Promise<void>((resolve) => {
    written = resolve;
  });
  const slow = db.transaction(async (tx) => {
    await tx.insert(auditEvents).values({ action: 'client.updated', clientId: 'slow' });
    written();
    await held;
  });
  await slowWrote;
  await db.insert(auditEvents).values({ action: 'client.updated', clientId: 'fast' });
  const whileOpen = await events(t, server, start.next_cursor === null ? {} : { after: start.next_cursor });
  t.same(whileOpen.items, [], 'nothing is served past a transaction still open');
  release();
  await slow;
  const page = await eventsWhen(t, server, start.next_cursor === null ? {} : { after: start.next_cursor }, 2);
  t.same(
    page.items.map((event) => event.data.client_id),
    ['slow', 'fast'],
  );
});

t.test('a transaction left open holds the events after it back for EVENTS_MAX_HOLD, no longer', async (t) => {
  const server = await buildWithAdmin(t, { config: { eventsMaxHold: 60 } });
  if (server.database.driver === 'pglite') {
    t.pass('PGlite runs one transaction at a time: none is left open beside another');
    return;
  }
  const { db } = server.database;
  const start = await events(t, server);
  const after: Record<string, string> = start.next_cursor === null ? {} : { after: start.next_cursor };
  // A session that wrote and then hangs, its transaction open.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let written: () => void = () => undefined;
  const stuckWrote = new Promise<void>((resolve) => {
    written = resolve;
  });
  const stuck = db.transaction(async (tx) => {
    await tx.insert(auditEvents).values({ action: 'client.updated', clientId: 'stuck' });
    written();
    await held;
  });
  t.teardown(() => release());
  await stuckWrote;
  await db.insert(auditEvents).values({ action: 'client.updated', clientId: 'later' });
  t.same((await events(t, server, after)).items, [], 'held back while the older transaction is open');
  server.clock.advance(61_000);
  const served = await events(t, server, after);
  t.same(
    served.items.map((event) => event.data.client_id),
    ['later'],
    'served once EVENTS_MAX_HOLD has passed, the transaction still open',
  );
  release();
  await stuck;
  const all = await eventsWhen(t, server, after, 2);
  t.same(
    all.items.map((event) => event.data.client_id),
    ['stuck', 'later'],
    'what it committed is in the stream, in its place, for a reader from before it',
  );
});

t.test('events are pruned with the audit trail (AUDIT_RETENTION_DAYS)', async (t) => {
  const server = await buildWithAdmin(t);
  await server.database.db
    .insert(auditEvents)
    .values({ action: 'client.updated', clientId: 'old', at: new Date(Date.now() - 400 * 86_400_000) });
  // The instance's own retention job may hold the lock at this moment: prune until it has gone.
  await eventually(
    async () => {
      await pruneExpired(server.database, { now: Date.now(), auditRetentionDays: 365 });
      return server.database.db.select().from(auditEvents).where(eq(auditEvents.clientId, 'old'));
    },
    (rows) => rows.length === 0,
  );
  const page = await events(t, server, { types: 'dev.portier.client.updated' });
  t.same(page.items, []);
});
