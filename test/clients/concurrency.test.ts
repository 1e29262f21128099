import { eq } from 'drizzle-orm';
import t from 'tap';
import { createClient, getClient } from '../../src/clients/clients.js';
import { updateClient } from '../../src/clients/lifecycle.js';
import { clientGrants, services } from '../../src/db/schema.js';
import { ValidationError } from '../../src/lib/errors.js';
import { addService, buildWithAdmin, CLI_ACTOR, CREDENTIAL_SETTINGS, sleep } from '../helpers.js';

// Changes that race. Each test holds a transaction open in which a service is changed (as
// a concurrent DELETE or PATCH of the service would), starts the competing change, and
// only then commits. On PostgreSQL the competing change really runs meanwhile and must
// wait for, then respect, the committed state; on PGlite (one connection) it runs after
// the commit. Either way: a clear 4xx answer and consistent rows, never a 500.

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };

/** Runs `change` inside a transaction that stays open while `competitor` starts; returns the competitor's outcome. */
async function whileUncommitted<T>(
  db: Parameters<typeof createClient>[0],
  change: (tx: Parameters<Parameters<typeof db.transaction>[0]>[0]) => Promise<unknown>,
  competitor: () => Promise<T>,
): Promise<PromiseSettledResult<T>> {
  let outcome: Promise<PromiseSettledResult<T>> | undefined;
  await db.transaction(async (tx) => {
    await change(tx);
    outcome = competitor().then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason }),
    );
    // Long enough for the competitor to reach the lock it waits on (PostgreSQL).
    await sleep(300);
  });
  if (outcome === undefined) throw new Error('the competitor never started');
  return outcome;
}

t.test('a service deleted while a client is being granted it: 400 unknown service, no client', async (t) => {
  const server = await buildWithAdmin(t);
  const { db } = server.database;
  await addService(server.database, EVENTS);
  const result = await whileUncommitted(
    db,
    (tx) => tx.delete(services).where(eq(services.id, 'events')),
    () =>
      createClient(
        db,
        { client_id: 'racer', name: 'Racer', owner: 'o', grants: [{ service: 'events', scopes: ['events:read'] }] },
        CLI_ACTOR,
        { now: Date.now() },
      ),
  );
  t.equal(result.status, 'rejected');
  if (result.status === 'rejected') {
    t.type(result.reason, ValidationError, 'a validation error, not a database error');
    t.match((result.reason as ValidationError).errors, [{ path: '/grants/0/service', message: /unknown service/ }]);
  }
  t.equal(await getClient(db, 'racer', Date.now()), undefined, 'no half-made client');
});

t.test('a scope removed while a client is being granted it: 400, not a grant of a scope that is gone', async (t) => {
  const server = await buildWithAdmin(t);
  const { db } = server.database;
  await addService(server.database, EVENTS);
  await createClient(
    db,
    { client_id: 'holder', name: 'Holder', owner: 'o', grants: [{ service: 'events', scopes: ['events:read'] }] },
    CLI_ACTOR,
    { now: Date.now() },
  );
  const result = await whileUncommitted(
    db,
    (tx) =>
      tx
        .update(services)
        .set({ scopes: ['events:read'] })
        .where(eq(services.id, 'events')),
    () =>
      updateClient(
        db,
        'holder',
        { grants: [{ service: 'events', scopes: ['events:read', 'events:write'] }] },
        CLI_ACTOR,
        Date.now(),
        undefined,
        CREDENTIAL_SETTINGS,
      ),
  );
  t.equal(result.status, 'rejected');
  if (result.status === 'rejected') {
    t.match((result.reason as ValidationError).errors, [{ path: '/grants/0/scopes/1', message: /no scope "events:write"/ }]);
  }
  const grants = await db.select({ scopes: clientGrants.scopes }).from(clientGrants).where(eq(clientGrants.serviceId, 'events'));
  t.same(grants, [{ scopes: ['events:read'] }], 'the grant is as it was');
});

t.test('two services given one audience at the same time: the second is a 409, not a 500', async (t) => {
  const server = await buildWithAdmin(t);
  const { db } = server.database;
  await addService(server.database, { id: 'first', audience: 'https://first.example', scopes: [] });
  await addService(server.database, { id: 'second', audience: 'https://second.example', scopes: [] });
  const result = await whileUncommitted(
    db,
    (tx) => tx.update(services).set({ audience: 'https://shared.example' }).where(eq(services.id, 'first')),
    () => server.admin('PATCH', '/admin/services/second', { audience: 'https://shared.example' }),
  );
  t.equal(result.status, 'fulfilled');
  if (result.status === 'fulfilled') {
    t.equal(result.value.statusCode, 409);
    t.equal(result.value.headers['content-type'], 'application/problem+json; charset=utf-8');
    t.match(result.value.json(), { status: 409, title: 'Conflict' });
  }
  const audiences = await db.select({ id: services.id, audience: services.audience }).from(services).where(eq(services.id, 'second'));
  t.same(audiences, [{ id: 'second', audience: 'https://second.example' }], 'the second service is unchanged');
});

t.test('two services created with one audience at the same time: one 201, one 409', async (t) => {
  const server = await buildWithAdmin(t);
  const [a, b] = await Promise.all(
    ['svc-a', 'svc-b'].map((id) => server.admin('POST', '/admin/services', { id, name: id, audience: 'https://same.example' })),
  );
  t.same([a?.statusCode, b?.statusCode].sort(), [201, 409]);
  const loser = a?.statusCode === 409 ? a : b;
  t.match(loser?.json(), { status: 409, detail: /audience/ });
});
