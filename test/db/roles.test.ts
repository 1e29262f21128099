/**
 * The least-privilege set-up of docs/operations.md, run as written: an owner role that migrates, and
 * instances running as a role that can only read and write rows. PostgreSQL only.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DrizzleQueryError, sql } from 'drizzle-orm';
import pg from 'pg';
import t from 'tap';
import { connectDatabase } from '../../src/db/connect.js';
import { MigrationPrivilegeError } from '../../src/db/migrations.js';
import { prepareDatabase } from '../../src/prepare.js';
import { ADMIN_ID, ADMIN_SECRET, basicAuth, build, ISSUER, postToken, testConfig } from '../helpers.js';

const serverUrl = process.env.DATABASE_URL;
const onPostgres = serverUrl !== undefined && serverUrl !== '';

/** The two ```sql blocks of "Least-privilege roles" in docs/operations.md: as a superuser, then as the owner. */
function documentedSql(): { superuser: string; owner: string } {
  const page = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const start = page.indexOf('### Least-privilege roles');
  const section = page.slice(start, page.indexOf('\n### ', start + 1));
  const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  if (blocks.length !== 2)
    throw new Error(`expected two sql blocks in the least-privilege section of docs/operations.md, found ${blocks.length}`);
  return { superuser: blocks[0] ?? '', owner: blocks[1] ?? '' };
}

/** The statements of a block, without comments, with this test's names for the roles and the database. */
function statements(block: string, names: { owner: string; app: string; database: string }): string[] {
  return block
    .replace(/--.*$/gm, '')
    .replace(/\bportier_owner\b/g, names.owner)
    .replace(/\bportier_app\b/g, names.app)
    .replace(/\bDATABASE portier\b/g, `DATABASE ${names.database}`)
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
}

async function run(url: string, list: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of list) await client.query(statement);
  } finally {
    await client.end();
  }
}

function urlFor(user: string, password: string, database: string): string {
  const url = new URL(serverUrl ?? '');
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

t.test('the least-privilege roles of docs/operations.md', { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL)' }, async (t) => {
  const suffix = randomBytes(4).toString('hex');
  const names = { owner: `portier_owner_${suffix}`, app: `portier_app_${suffix}`, database: `portier_roles_${suffix}` };
  const sqlBlocks = documentedSql();
  const superuser = new URL(serverUrl ?? '').toString();
  t.teardown(() =>
    run(superuser, [
      `DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`,
      `DROP ROLE IF EXISTS ${names.app}`,
      `DROP ROLE IF EXISTS ${names.owner}`,
    ]),
  );
  await run(superuser, statements(sqlBlocks.superuser, names));
  const ownerUrl = urlFor(names.owner, 'owner-secret', names.database);
  const appUrl = urlFor(names.app, 'app-secret', names.database);
  const config = testConfig({ bootstrapAdmin: { clientId: ADMIN_ID, clientSecret: ADMIN_SECRET } });

  await t.test('the owner migrates, then grants', async (t) => {
    const owner = await connectDatabase({ databaseUrl: ownerUrl });
    t.teardown(() => owner.close());
    await prepareDatabase(owner, config);
    await run(ownerUrl, statements(sqlBlocks.owner, names));
    t.pass('portier migrate and the GRANTs as the owner');
  });

  await t.test('an instance runs as the app role: start, tokens, admin changes, a key rotation', async (t) => {
    const database = await connectDatabase({ databaseUrl: appUrl });
    t.teardown(() => database.close());
    const { app } = await build(t, { database, config });
    const adminToken = await postToken(
      app,
      { grant_type: 'client_credentials', scope: 'admin:write', resource: `${ISSUER}/admin` },
      {
        authorization: basicAuth(ADMIN_ID, ADMIN_SECRET),
      },
    );
    t.equal(adminToken.statusCode, 200, 'the bootstrap admin gets a token');
    const headers = {
      authorization: `Bearer ${(adminToken.json() as { access_token: string }).access_token}`,
      'content-type': 'application/json',
    };
    const admin = (method: 'POST' | 'PATCH', url: string, payload: unknown = {}) =>
      app.inject({ method, url, headers, payload: JSON.stringify(payload) });

    t.equal(
      (
        await admin('POST', '/admin/services', {
          id: 'orders',
          name: 'Orders',
          audience: 'https://orders.example',
          scopes: ['orders:read'],
        })
      ).statusCode,
      201,
      'create a service',
    );
    const created = await admin('POST', '/admin/clients', {
      client_id: 'vendor-x',
      name: 'Vendor X',
      owner: 'user-1',
      grants: [{ service: 'orders', scopes: ['orders:read'] }],
      ip_ranges: ['10.0.0.0/8'],
    });
    t.equal(created.statusCode, 201, 'create a client');
    const secret = (created.json() as { client_secret: string }).client_secret;
    t.equal((await admin('PATCH', '/admin/clients/vendor-x', { ip_ranges: [] })).statusCode, 200, 'update it');
    const issued = await postToken(app, { grant_type: 'client_credentials' }, { authorization: basicAuth('vendor-x', secret) });
    t.equal(issued.statusCode, 200, 'the client gets a token');
    const revoked = await app.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: { authorization: basicAuth('vendor-x', secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${(issued.json() as { access_token: string }).access_token}`,
    });
    t.equal(revoked.statusCode, 200, 'and revokes it');
    t.equal((await admin('POST', '/admin/clients/vendor-x/secret')).statusCode, 200, 'a new secret');
    t.equal((await admin('POST', '/admin/keys/rotate')).statusCode, 202, 'a key rotation (scheduled)');
    t.equal(
      (await app.inject({ method: 'DELETE', url: '/admin/clients/vendor-x', headers: { authorization: headers.authorization } }))
        .statusCode,
      204,
      'delete the client',
    );
    const audit = await app.inject({
      method: 'GET',
      url: '/admin/audit-events?limit=100',
      headers: { authorization: headers.authorization },
    });
    t.ok((audit.json() as { items: unknown[] }).items.length >= 6, 'every change is in the audit trail');
  });

  await t.test('the app role can create nothing, but reaches tables of later migrations', async (t) => {
    const database = await connectDatabase({ databaseUrl: appUrl });
    t.teardown(() => database.close());
    const refused = await database.db.execute(sql`CREATE TABLE not_allowed (id int)`).then(
      () => undefined,
      (error: unknown) => (error instanceof DrizzleQueryError ? error.cause : error) as { code?: string },
    );
    t.equal(refused?.code, '42501', 'CREATE TABLE: permission denied');

    // What a later migration, run by the owner, would add.
    await run(ownerUrl, ['CREATE TABLE later_table (id bigserial PRIMARY KEY, note text)']);
    await database.db.execute(sql`INSERT INTO later_table (note) VALUES ('default privileges')`);
    t.pass('the app role writes to a table the owner created later (and uses its sequence)');
  });

  await t.test('an instance started as the app role with a migration pending stops, saying why', async (t) => {
    // As if this version brought a migration that the owner has not run yet.
    await run(ownerUrl, ['UPDATE drizzle.__drizzle_migrations SET created_at = created_at - 1']);
    const database = await connectDatabase({ databaseUrl: appUrl });
    t.teardown(() => database.close());
    const error = await prepareDatabase(database, config).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    t.type(error, MigrationPrivilegeError);
    t.match(String((error as Error | undefined)?.message), /permission denied for schema public.*portier migrate/);
  });
});
