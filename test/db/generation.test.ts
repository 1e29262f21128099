import { sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { updateClient } from '../../src/clients/lifecycle.js';
import { cacheChanges } from '../../src/db/schema.js';
import { updateService } from '../../src/services/services.js';
import { addClient, addService, basicAuth, build, CLI_ACTOR, CREDENTIAL_SETTINGS, postToken, type TestServer } from '../helpers.js';

// A change drops from the caches only what it made stale (db/generation.ts): the client it
// changed, the clients granted a service it changed, and nothing of the others, so that
// they keep being served from memory (through a database outage too: test/db/outage.test.ts).

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };
const BILLING = { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] };

async function setUp(t: Test) {
  const server = await build(t);
  await addService(server.database, EVENTS);
  await addService(server.database, BILLING);
  const onEvents = await Promise.all([1, 2].map(() => addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] })));
  const onBilling = await addClient(server, { grants: [{ service: 'billing', scopes: ['billing:read'] }] });
  const clients = [...onEvents, onBilling];
  // Let this instance see the creations first (its poll would otherwise drop the records below).
  await server.app.portier.generation.catchUp();
  for (const client of clients) t.equal((await token(server, client)).statusCode, 200, `${client.clientId} gets a token (now cached)`);
  return { server, clients };
}

function token(server: TestServer, client: { clientId: string; clientSecret: string }) {
  return postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(client.clientId, client.clientSecret) });
}

/** Whether this instance holds the client's record, loaded: a token request for it would need no query. */
async function cached(server: TestServer, clientId: string): Promise<boolean> {
  return (await server.app.portier.directory.lookUp(clientId)).fromCache;
}

t.test('a client changed: its record is loaded again in the new state, the others stay', async (t) => {
  const { server, clients } = await setUp(t);
  const [changed, other, onBilling] = clients;
  if (changed === undefined || other === undefined || onBilling === undefined) throw new Error('three clients expected');
  await updateClient(server.database.db, changed.clientId, { roles: ['reader'] }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  await server.app.portier.generation.catchUp();
  t.ok(await cached(server, other.clientId), 'another client granted the same service is still cached');
  t.ok(await cached(server, onBilling.clientId), 'a client of another service is still cached');
  const after = await token(server, changed);
  t.same(
    JSON.parse(Buffer.from(String(after.json().access_token).split('.')[1] ?? '', 'base64url').toString()).roles,
    ['reader'],
    'the changed client is served in its new state',
  );
});

t.test('a service changed: the records of clients granted it go, the others stay', async (t) => {
  const { server, clients } = await setUp(t);
  const [first, second, onBilling] = clients;
  if (first === undefined || second === undefined || onBilling === undefined) throw new Error('three clients expected');
  await updateService(server.database.db, 'events', { access_token_ttl: 120 }, CLI_ACTOR);
  // The records dropped are loaded again at once, in the background; wait for that first.
  await server.app.portier.generation.catchUp();
  t.ok(await cached(server, onBilling.clientId), 'the client of another service is still cached');
  for (const client of [first, second]) {
    t.equal((await token(server, client)).json().expires_in, 120, `${client.clientId}: the service's new lifetime, at once`);
  }
});

t.test('a change whose entries are gone (pruned while an instance was cut off) drops everything', async (t) => {
  const { server, clients } = await setUp(t);
  const [changed, other] = clients;
  if (changed === undefined || other === undefined) throw new Error('two clients expected');
  await updateClient(server.database.db, changed.clientId, { roles: ['reader'] }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  await server.database.db.delete(cacheChanges).where(sql`true`);
  await server.app.portier.generation.catchUp();
  t.notOk(await cached(server, other.clientId), 'another client is no longer cached: nothing tells what changed');
  t.equal((await token(server, other)).statusCode, 200, 'and is loaded again on its next request');
});
