import { and, eq } from 'drizzle-orm';
import t from 'tap';
import type { Database } from '../../src/db/connect.js';
import { readGeneration } from '../../src/db/generation.js';
import { auditEvents, services } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/prepare.js';
import { ADMIN_SERVICE_ID, IssuerMismatchError } from '../../src/services/services.js';
import { ADMIN_ID, ADMIN_SECRET, buildWithAdmin, createTestDatabase, eventually, ISSUER, runCli, testConfig } from '../helpers.js';

// The admin audience (<ISSUER>/admin) is stored in the database and every admin token
// carries it: a process with another ISSUER must not move it by accident.

async function storedAudience(database: Database): Promise<string | undefined> {
  const [row] = await database.db.select({ audience: services.audience }).from(services).where(eq(services.id, ADMIN_SERVICE_ID));
  return row?.audience;
}

t.test('a start with another ISSUER is refused with one line, and changes nothing', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  const generation = await readGeneration(database.db);
  const error = await prepareDatabase(database, testConfig({ issuer: 'https://elsewhere.example' })).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  t.ok(error instanceof IssuerMismatchError, 'IssuerMismatchError');
  t.match(String((error as Error).message), /ISSUER is https:\/\/elsewhere\.example.*http:\/\/portier\.test\/admin.*--move-issuer/);
  t.notOk(String((error as Error).message).includes('\n'), 'one line');
  t.equal(await storedAudience(database), `${ISSUER}/admin`, 'the audience stays');
  t.equal(await readGeneration(database.db), generation, 'the generation stays');
});

t.test('a move asked for moves the audience, is audited, and every instance follows within a second', async (t) => {
  const server = await buildWithAdmin(t);
  const before = await server.admin('GET', '/admin/clients');
  t.equal(before.statusCode, 200, 'the admin token works');

  const moved = 'https://auth.example.com';
  await prepareDatabase(server.database, testConfig({ issuer: moved }), undefined, { moveIssuer: true });
  t.equal(await storedAudience(server.database), `${moved}/admin`);
  const [event] = await server.database.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, 'service.updated'), eq(auditEvents.actorClientId, 'system')));
  t.match(
    event?.details,
    { service: ADMIN_SERVICE_ID, changes: { audience: { from: `${ISSUER}/admin`, to: `${moved}/admin` } } },
    'audited',
  );
  // This instance runs with the old ISSUER: through the cache generation it sees, within a
  // second, that its admin audience is no longer the one the admin client is granted.
  const refused = await eventually(
    () => server.admin('GET', '/admin/clients'),
    (response) => response.statusCode !== 200,
    1000,
  );
  t.equal(refused.statusCode, 403, 'tokens for the old audience are refused within a second');
});

t.test("the CLI run without the servers' ISSUER leaves the admin audience alone", async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig({ bootstrapAdmin: { clientId: ADMIN_ID, clientSecret: ADMIN_SECRET } }));
  // No ISSUER: the default, http://localhost:8080, is not the servers'.
  const cli = (...args: string[]) => runCli(database, args, { LOG_LEVEL: 'warn' });
  const listed = await cli('clients', 'list');
  t.equal(listed.code, 0);
  t.ok(JSON.parse(listed.stdout).items !== undefined, 'clients list works');
  const created = await cli('clients', 'create', '--name', 'Made by the CLI', '--owner', 'ops');
  t.equal(created.code, 0, 'so does a write');
  const failed = await cli('migrate');
  t.equal(failed.code, 1, 'migrate with another ISSUER fails');
  t.match(failed.stderr, /^portier: ISSUER is http:\/\/localhost:8080, but .*--move-issuer/);
  t.equal(failed.stderr.trim().split('\n').length, 1, 'in one line');
  t.equal(await storedAudience(database), `${ISSUER}/admin`, 'the audience is what the servers use');
});
