import { and, eq, isNotNull, sql } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { deleteClient, regenerateSecret, setClientEnabled, updateClient } from '../../src/clients/lifecycle.js';
import { clientCredentials } from '../../src/db/schema.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  CLI_ACTOR,
  CREDENTIAL_SETTINGS,
  eventually,
  postToken,
  type TestServer,
} from '../helpers.js';

// The token endpoint caches clients and remembers verified secrets. These tests check,
// through real token requests, that every change that matters is in force on the next
// request of the instance that made it, and within one poll on another instance.
//
// The plain functions write to the database and bump the cache generation; the local
// server is told through generation.changed(), as the admin API does after every write.
// The cross-instance tests do NOT call it: they wait for the generation poll.

type Response = Awaited<ReturnType<typeof postToken>>;

const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read', 'events:write'] };
const BILLING = { id: 'billing', audience: 'https://billing.example', scopes: ['billing:read'] };
/** The credential settings the plain functions take (MAX_CREDENTIAL_SETTINGS_PER_CLIENT, SECRET_PREFIX as configured by default). */

async function setup(t: Test) {
  const server = await build(t);
  await addService(server.database, EVENTS);
  await addService(server.database, BILLING);
  const client = await addClient(server, { grants: [{ service: 'events', scopes: ['events:read'] }] });
  return { server, db: server.database.db, client };
}

function ask(server: TestServer, clientId: string, secret: string, form: Record<string, string> = {}): Promise<Response> {
  return postToken(server.app, { grant_type: 'client_credentials', ...form }, { authorization: basicAuth(clientId, secret) });
}

/** The local admin path: the instance that made a change drops its caches at once. */
function changed(server: TestServer): void {
  server.app.portier.generation.changed();
}

function expectRefused(t: Test, response: Response, error = 'invalid_client', label = ''): void {
  const what = label === '' ? '' : `${label}: `;
  t.equal(response.statusCode, error === 'invalid_client' ? 401 : 400, `${what}refused`);
  t.equal(response.json().error, error, `${what}${error}`);
}

t.test('regenerated secret without grace: the old one is refused on the very next request', async (t) => {
  const { server, db, client } = await setup(t);
  // Twice, so the second one is served from the verification cache.
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);

  const { clientSecret: fresh, previousSecretExpiresAt } = await regenerateSecret(
    db,
    client.clientId,
    0,
    CLI_ACTOR,
    Date.now(),
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  t.equal(previousSecretExpiresAt, null);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'old secret');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'the new secret works');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'and keeps working');
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'old secret, again');
});

t.test('regenerated secret with a grace period: both work until the grace ends (expiry set in the database)', async (t) => {
  const { server, db, client } = await setup(t);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);

  const { clientSecret: fresh, previousSecretExpiresAt } = await regenerateSecret(
    db,
    client.clientId,
    3600,
    CLI_ACTOR,
    Date.now(),
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  t.type(previousSecretExpiresAt, 'string');
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'old secret works during the grace');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'new secret works');
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'old secret, from the cache');

  // The grace period ends: move the old secret's expiry into the past.
  await db
    .update(clientCredentials)
    .set({ expiresAt: sql`now() - interval '1 second'` })
    .where(and(eq(clientCredentials.clientUuid, client.uuid), isNotNull(clientCredentials.expiresAt)));
  changed(server);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'old secret after the grace');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'new secret still works');
});

t.test('regenerated secret with a short grace period: the old one is refused once it runs out', async (t) => {
  const { server, db, client } = await setup(t);
  const { clientSecret: fresh, previousSecretExpiresAt } = await regenerateSecret(
    db,
    client.clientId,
    2,
    CLI_ACTOR,
    Date.now(),
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  // Within the grace the old secret verifies, and that verification is remembered.
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'old secret works during the grace');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'new secret works');

  // The grace runs out. No change is signalled: the expiry alone must end the old secret.
  const expiresAt = Date.parse(String(previousSecretExpiresAt));
  server.clock.advance(Math.max(0, expiresAt - Date.now()) + 100);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'old secret after the grace');
  t.equal((await ask(server, client.clientId, fresh)).statusCode, 200, 'new secret still works');
});

t.test('a client that expires while cached is refused once expires_at passes', async (t) => {
  const { server } = await setup(t);
  const expiresAt = new Date(Date.now() + 3000);
  const client = await addClient(server, { expires_at: expiresAt.toISOString(), grants: [{ service: 'events', scopes: ['events:read'] }] });
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'works before it expires');
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'cached');

  // Nothing changes in the database and nothing is signalled: the clock alone ends it.
  server.clock.advance(Math.max(0, expiresAt.getTime() - Date.now()) + 100);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'expired');
});

t.test('disable and enable', async (t) => {
  const { server, db, client } = await setup(t);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'cached');

  await setClientEnabled(db, client.clientId, false, CLI_ACTOR, Date.now());
  changed(server);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'disabled');
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'disabled, again');

  await setClientEnabled(db, client.clientId, true, CLI_ACTOR, Date.now());
  changed(server);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'enabled again');
});

t.test('delete', async (t) => {
  const { server, db, client } = await setup(t);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'cached');

  await deleteClient(db, client.clientId, CLI_ACTOR);
  changed(server);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'deleted');

  // A new client with the same client_id is a different client with a different secret.
  const again = await addClient(server, { client_id: client.clientId, grants: [{ service: 'events', scopes: ['events:read'] }] });
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', "the deleted client's secret");
  t.equal((await ask(server, again.clientId, again.clientSecret)).statusCode, 200, 'the re-created client works with its own secret');
});

t.test('ip_ranges changed to exclude the caller', async (t) => {
  const { server, db, client } = await setup(t);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'cached');

  // inject() calls from 127.0.0.1.
  await updateClient(db, client.clientId, { ip_ranges: ['192.0.2.0/24'] }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  changed(server);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_client', 'outside the ranges');

  await updateClient(
    db,
    client.clientId,
    { ip_ranges: ['192.0.2.0/24', '127.0.0.1'] },
    CLI_ACTOR,
    Date.now(),
    undefined,
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'inside again');
});

t.test('a caller outside the ranges is refused before its secret is looked at', async (t) => {
  // A secret that verified once is recognised without argon2. Were the caller's address
  // checked after the secret, an outsider holding the right secret would get its 401
  // sooner than one with a wrong secret, and so learn that the secret is good.
  const { server, db, client } = await setup(t);
  await updateClient(db, client.clientId, { ip_ranges: ['127.0.0.1/32'] }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  changed(server);
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'from inside: the secret is now remembered');

  const { directory } = server.app.portier;
  const verifySecret = directory.verifySecret.bind(directory);
  let secretChecks = 0;
  directory.verifySecret = (...args) => {
    secretChecks += 1;
    return verifySecret(...args);
  };
  t.teardown(() => {
    directory.verifySecret = verifySecret;
  });
  const fromOutside = (secret: string) =>
    server.app.inject({
      method: 'POST',
      url: '/oauth/token',
      remoteAddress: '192.0.2.9',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(client.clientId, secret) },
      payload: 'grant_type=client_credentials',
    });
  const right = await fromOutside(client.clientSecret);
  const wrong = await fromOutside(`${client.clientSecret}x`);
  expectRefused(t, right, 'invalid_client', 'right secret from outside');
  expectRefused(t, wrong, 'invalid_client', 'wrong secret from outside');
  t.same(right.json(), wrong.json(), 'the same answer');
  t.equal(secretChecks, 0, 'the presented secret was not compared at all');
  t.equal((await ask(server, client.clientId, client.clientSecret)).statusCode, 200, 'from inside it still works');
});

t.test('grants changed', async (t) => {
  const { server, db, client } = await setup(t);
  t.equal((await ask(server, client.clientId, client.clientSecret, { scope: 'events:read' })).statusCode, 200);
  t.equal((await ask(server, client.clientId, client.clientSecret, { scope: 'events:read' })).statusCode, 200, 'cached');

  // The events grant is replaced by a billing one.
  await updateClient(
    db,
    client.clientId,
    { grants: [{ service: 'billing', scopes: ['billing:read'] }] },
    CLI_ACTOR,
    Date.now(),
    undefined,
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  expectRefused(
    t,
    await ask(server, client.clientId, client.clientSecret, { resource: EVENTS.audience }),
    'invalid_target',
    'events by resource',
  );
  expectRefused(t, await ask(server, client.clientId, client.clientSecret, { scope: 'events:read' }), 'invalid_scope', 'an events scope');
  const billing = await ask(server, client.clientId, client.clientSecret);
  t.equal(billing.statusCode, 200);
  t.equal(billing.json().scope, 'billing:read', 'the new grant is in force');

  // A scope taken out of a grant.
  await updateClient(
    db,
    client.clientId,
    { grants: [{ service: 'events', scopes: ['events:write'] }] },
    CLI_ACTOR,
    Date.now(),
    undefined,
    CREDENTIAL_SETTINGS,
  );
  changed(server);
  expectRefused(
    t,
    await ask(server, client.clientId, client.clientSecret, { scope: 'events:read' }),
    'invalid_scope',
    'a scope no longer granted',
  );

  // Every grant removed.
  await updateClient(db, client.clientId, { grants: [] }, CLI_ACTOR, Date.now(), undefined, CREDENTIAL_SETTINGS);
  changed(server);
  expectRefused(t, await ask(server, client.clientId, client.clientSecret), 'invalid_target', 'no grants left');
});

t.test('a change made through another instance is in force within one poll', async (t) => {
  const { server: server1, db, client } = await setup(t);
  const server2 = await build(t, { database: server1.database });

  t.test('disable', async (t) => {
    // Warm server2's caches: the client record and its verified secret.
    t.equal((await ask(server2, client.clientId, client.clientSecret)).statusCode, 200);
    t.equal((await ask(server2, client.clientId, client.clientSecret)).statusCode, 200, 'cached');

    // Disabled through the plain function; neither instance is told directly.
    await setClientEnabled(db, client.clientId, false, CLI_ACTOR, Date.now());
    const response = await eventually(
      () => ask(server2, client.clientId, client.clientSecret),
      (r) => r.statusCode !== 200,
    );
    expectRefused(t, response, 'invalid_client', 'server2 refuses the disabled client after its poll');

    await setClientEnabled(db, client.clientId, true, CLI_ACTOR, Date.now());
    const back = await eventually(
      () => ask(server2, client.clientId, client.clientSecret),
      (r) => r.statusCode === 200,
    );
    t.equal(back.statusCode, 200, 'and serves it again once it is enabled');
  });

  t.test('new secret', async (t) => {
    t.equal((await ask(server2, client.clientId, client.clientSecret)).statusCode, 200, 'warm');
    const { clientSecret: fresh } = await regenerateSecret(db, client.clientId, 0, CLI_ACTOR, Date.now(), CREDENTIAL_SETTINGS);
    const response = await eventually(
      () => ask(server2, client.clientId, client.clientSecret),
      (r) => r.statusCode !== 200,
    );
    expectRefused(t, response, 'invalid_client', 'server2 refuses the replaced secret after its poll');
    t.equal((await ask(server2, client.clientId, fresh)).statusCode, 200, 'and accepts the new one');
    t.equal((await ask(server1, client.clientId, fresh)).statusCode, 200, 'so does server1');
  });
});
