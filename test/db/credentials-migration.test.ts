import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { eq, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import t, { type Test } from 'tap';
import { generateOpaqueSecret, hashSecret, secretSlot } from '../../src/clients/secrets.js';
import { type Database, pgliteDatabase } from '../../src/db/connect.js';
import { migrationsFolder } from '../../src/db/migrations.js';
import { CLIENT_ASSERTION_TYPE } from '../../src/oauth/client-auth/client-assertion.js';
import { basicAuth, buildWithAdmin, createTestDatabase, ISSUER, postToken } from '../helpers.js';

// Migration 0014 turns the secrets of client_secrets and the keys of clients.jwks into
// credentials. A database of the release before it, with live secrets (one mid-rotation,
// one whose slot was never learnt) and a registered key, is migrated by a start of this
// release: every client keeps working with what it had.

const LAST_MIGRATION_BEFORE_CREDENTIALS = '0013_cache_changes';
const onPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== '';

/** An empty database: a fresh one on the PostgreSQL server, or a new in-memory PGlite (no template). */
async function emptyDatabase(t: Test): Promise<Database> {
  if (onPostgres) return (await createTestDatabase(t)).database;
  const database = pgliteDatabase(new PGlite());
  t.teardown(() => database.close());
  return database;
}

/** Migrates `database` as an earlier release did: the migrations up to `lastTag` (by default LAST_MIGRATION_BEFORE_CREDENTIALS). */
async function migrateToPreviousRelease(t: Test, database: Database, lastTag = LAST_MIGRATION_BEFORE_CREDENTIALS): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'portier-migrations-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  cpSync(migrationsFolder(), folder, { recursive: true });
  const journalPath = join(folder, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
  const last = journal.entries.findIndex((entry) => entry.tag === lastTag);
  t.ok(last >= 0, 'the previous release is in the journal');
  writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
  if (database.driver === 'pg') await migratePg(database.db as unknown as NodePgDatabase, { migrationsFolder: folder });
  else await migratePglite(database.db as unknown as PgliteDatabase, { migrationsFolder: folder });
}

t.test('secrets and keys of the previous release become credentials, and every client keeps working', async (t) => {
  const database = await emptyDatabase(t);
  await migrateToPreviousRelease(t, database);
  const { db } = database;

  const current = generateOpaqueSecret();
  const previous = generateOpaqueSecret(secretSlot(current) === 0 ? 1 : 0);
  const unslotted = generateOpaqueSecret();
  const graceEnds = new Date(Date.now() + 3600_000);
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };

  // The tables as the previous release wrote them (its columns, no credentials table).
  await db.execute(
    sql`INSERT INTO services (id, name, audience, scopes) VALUES ('events', 'Events', 'https://events.example', '{events:read}')`,
  );
  const rotating = randomUUID();
  const unslottedClient = randomUUID();
  const keyed = randomUUID();
  await db.execute(sql`
    INSERT INTO clients (id, client_id, name, owner, created_by, auth_method, jwks) VALUES
      (${rotating}::uuid, 'rotating', 'Rotating', 'o', 'cli', 'client_secret', NULL),
      (${unslottedClient}::uuid, 'unslotted', 'Unslotted', 'o', 'cli', 'client_secret', NULL),
      (${keyed}::uuid, 'keyed', 'Keyed', 'o', 'cli', 'private_key_jwt', ${JSON.stringify({ keys: [publicJwk] })}::jsonb)`);
  await db.execute(sql`
    INSERT INTO client_grants (client_uuid, service_id, scopes) VALUES
      (${rotating}::uuid, 'events', '{events:read}'), (${unslottedClient}::uuid, 'events', '{events:read}'),
      (${keyed}::uuid, 'events', '{events:read}')`);
  await db.execute(sql`
    INSERT INTO client_secrets (client_uuid, hash, slot, expires_at) VALUES
      (${rotating}::uuid, ${await hashSecret(current)}, ${secretSlot(current)}, NULL),
      (${rotating}::uuid, ${await hashSecret(previous)}, ${secretSlot(previous)}, ${graceEnds.toISOString()}::timestamptz),
      (${unslottedClient}::uuid, ${await hashSecret(unslotted)}, NULL, NULL)`);

  // This release starts on it: migrations 0014 to 0017 run.
  const server = await buildWithAdmin(t, { database });
  const token = (clientId: string, secret: string) =>
    postToken(
      server.app,
      { grant_type: 'client_credentials', resource: 'https://events.example' },
      { authorization: basicAuth(clientId, secret) },
    );
  t.equal((await token('rotating', current)).statusCode, 200, 'the current secret still gets tokens');
  t.equal((await token('rotating', previous)).statusCode, 200, 'so does the previous one, in its grace period');
  t.equal((await token('unslotted', unslotted)).statusCode, 200, 'and a secret whose slot was never learnt');
  t.equal((await token('rotating', generateOpaqueSecret())).statusCode, 401, 'a wrong secret is still refused');
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({ iss: 'keyed', sub: 'keyed', aud: ISSUER, iat: now, exp: now + 60, jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .sign(privateKey);
  const keyedAnswer = await postToken(server.app, {
    grant_type: 'client_credentials',
    resource: 'https://events.example',
    client_id: 'keyed',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  });
  t.equal(keyedAnswer.statusCode, 200, 'the registered key still signs assertions');

  const listed = async (clientId: string) =>
    (await server.admin('GET', `/admin/clients/${clientId}/credentials`)).json().credentials as Array<Record<string, unknown>>;
  const rotatingCredentials = await listed('rotating');
  t.equal(rotatingCredentials.length, 2, 'two secret credentials');
  t.same(
    rotatingCredentials
      .map((credential) => [credential.kind, credential.created_by, credential.expires_at])
      .sort((a, b) => String(a[2]).localeCompare(String(b[2]))),
    [
      ['secret', 'migration', graceEnds.toISOString()],
      ['secret', 'migration', null],
    ],
    'made by the migration, each with the expiry it had',
  );
  for (const credential of rotatingCredentials) t.match(credential.id, /^cred_[0-9A-Za-z]{16}$/, 'with a credential id');
  const [key] = await listed('keyed');
  t.match(key, { kind: 'public_key', kid: 'k1', alg: 'ES256', created_by: 'migration' }, 'the key is a public_key credential');
  t.match(key?.thumbprint, /^[A-Za-z0-9_-]{43}$/, 'with its thumbprint');
  const keyedClient = await server.admin('GET', '/admin/clients/keyed');
  t.same(keyedClient.json().jwks, { keys: [publicJwk] }, 'and the client still shows it in its jwks');
});

t.test("a self-signed certificate client's keys: their credentials get thumbprints, the copies among TLS identities go", async (t) => {
  const database = await emptyDatabase(t);
  await migrateToPreviousRelease(t, database, '0017_events');
  const { db } = database;
  const keys = await Promise.all(
    (['ES256', 'RS256', 'EdDSA'] as const).map(async (alg) => exportJWK((await generateKeyPair(alg, { extractable: true })).publicKey)),
  );
  const device = randomUUID();
  await db.execute(sql`
    INSERT INTO clients (id, client_id, name, owner, created_by, auth_method) VALUES
      (${device}::uuid, 'device', 'Device', 'o', 'cli', 'self_signed_tls_client_auth')`);
  for (const [i, jwk] of keys.entries()) {
    const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    await db.execute(sql`
      INSERT INTO client_credentials (id, client_uuid, kind, jwk, created_by)
        VALUES (${`cred_000000000000000${i}`}, ${device}::uuid, 'public_key', ${JSON.stringify(jwk)}::jsonb, 'migration')`);
    await db.execute(sql`
      INSERT INTO client_tls_identities (client_uuid, kind, value, match_key)
        VALUES (${device}::uuid, 'public_key', ${thumbprint}, ${thumbprint})`);
  }

  const server = await buildWithAdmin(t, { database });
  const { clientCredentials, clientTlsIdentities } = await import('../../src/db/schema.js');
  const rows = await server.database.db
    .select()
    .from(clientCredentials)
    .where(eq(clientCredentials.kind, 'public_key'))
    .orderBy(clientCredentials.id);
  t.same(
    rows.map((row) => row.thumbprint),
    await Promise.all(keys.map((jwk) => calculateJwkThumbprint(jwk, 'sha256'))),
    "each key's RFC 7638 thumbprint, as jose makes it (EC, RSA, OKP)",
  );
  t.same(await server.database.db.select().from(clientTlsIdentities), [], 'no copies of the keys');
  const { findClientsByCertificate } = await import('../../src/clients/certificates.js');
  for (const row of rows) {
    const shows = { keys: [], publicKey: String(row.thumbprint), thumbprint: 'unused' };
    t.same(await findClientsByCertificate(server.database.db, shows, Date.now()), ['device'], 'a certificate of the key finds its client');
  }
});
