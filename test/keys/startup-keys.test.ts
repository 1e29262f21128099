import { randomBytes } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import t from 'tap';
import type { Database } from '../../src/db/connect.js';
import { signingKeys } from '../../src/db/schema.js';
import { DEFAULT_PUBLICATION_LEAD_SECONDS } from '../../src/keys/publication.js';
import { applyDueRotation, requestRotation } from '../../src/keys/rotation.js';
import { KeyUnavailableError, loadKeySet } from '../../src/keys/signing-keys.js';
import { prepareDatabase } from '../../src/prepare.js';
import { rejection } from '../expect.js';
import {
  addClient,
  addService,
  basicAuth,
  build,
  captureLogs,
  createTestDatabase,
  ISSUER,
  postToken,
  type TestServer,
  testConfig,
} from '../helpers.js';

// Signing keys at start-up: sealed at rest with KEY_ENCRYPTION_KEY, a SIGNING_ALG change on
// an existing database, rotations through the functions the admin API and CLI call.

async function keyRows(database: Database) {
  return database.db.select().from(signingKeys).orderBy(asc(signingKeys.createdAt));
}

async function activeKeys(database: Database) {
  return database.db.select().from(signingKeys).where(eq(signingKeys.status, 'active'));
}

const TEST_ACTOR = { clientId: 'test', sub: null };

/**
 * A whole normal rotation at once: a next key is published at `start`, and a publication
 * delay later takes over (as the first instance to notice would switch to it).
 */
async function rotateNow(
  database: Database,
  keyEncryptionKey: Buffer | undefined,
  maxTokenTtl: number,
  start = Date.now(),
): Promise<string> {
  const settings = { alg: 'ES256' as const, keys: keyEncryptionKey, maxTokenTtl, publicationLead: DEFAULT_PUBLICATION_LEAD_SECONDS };
  await requestRotation(database, settings, new Date(start), TEST_ACTOR);
  const switched = await requestRotation(database, settings, new Date(start + DEFAULT_PUBLICATION_LEAD_SECONDS * 1000), TEST_ACTOR);
  return switched.kid;
}

/** A client granted one service of its own, and a token for it through the token endpoint. */
async function issueToken(server: TestServer, name: string): Promise<{ token: string; audience: string }> {
  const audience = `https://${name}.example.com`;
  await addService(server.database, { id: name, audience, scopes: [`${name}:read`] });
  const { clientId, clientSecret } = await addClient(server, {
    client_id: `${name}-client`,
    grants: [{ service: name, scopes: [`${name}:read`] }],
  });
  const response = await postToken(server.app, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, clientSecret) });
  if (response.statusCode !== 200) throw new Error(`token request failed: ${response.statusCode} ${response.body}`);
  return { token: (response.json() as { access_token: string }).access_token, audience };
}

async function publishedJwks(server: TestServer): Promise<{ keys: JWK[] }> {
  const response = await server.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return response.json() as { keys: JWK[] };
}

async function verifyAgainstJwks(server: TestServer, token: string, audience: string) {
  return jwtVerify(token, createLocalJWKSet(await publishedJwks(server)), { issuer: ISSUER, audience, typ: 'at+jwt' });
}

// KEY_ENCRYPTION_KEY

t.test('with KEY_ENCRYPTION_KEY the private key is encrypted at rest', async (t) => {
  const keyEncryptionKey = randomBytes(32);
  const { database } = await createTestDatabase(t);
  const logs = captureLogs('info');
  await prepareDatabase(database, testConfig({ keyEncryptionKey }), logs.logger);
  t.notMatch(logs.text(), /KEY_ENCRYPTION_KEY is not set/, 'no warning');

  const rows = await keyRows(database);
  t.equal(rows.length, 1);
  const row = rows[0];
  t.equal(row?.encrypted, true, 'marked encrypted');
  t.notMatch(row?.privateKey, /"d":/, 'the stored private key does not contain the private JWK');
  t.notMatch(row?.privateKey, /"d"/);
  t.match(row?.privateKey, /^v2\.[\w-]+\.[\w-]+\.[\w-]+$/, 'an encryption envelope (v2, bound to the kid)');
  const publicJwk = row?.publicJwk as Record<string, unknown>;
  t.notOk('d' in publicJwk, 'the public JWK has no private part');

  const server = await build(t, { database, config: { keyEncryptionKey } });
  const { token, audience } = await issueToken(server, 'orders');
  const jwks = await publishedJwks(server);
  for (const key of jwks.keys) t.notOk('d' in key, `published key ${key.kid} has no private part`);
  const { protectedHeader, payload } = await verifyAgainstJwks(server, token, audience);
  t.equal(protectedHeader.kid, row?.kid, 'signed with the encrypted key');
  t.equal(protectedHeader.alg, 'ES256');
  t.equal(payload.client_id, 'orders-client');

  await t.test('starting without the key fails, naming KEY_ENCRYPTION_KEY', async (t) => {
    const fromLoad = await rejection(loadKeySet(database.db, undefined, new Date()));
    t.ok(fromLoad instanceof KeyUnavailableError, 'loadKeySet: KeyUnavailableError');
    t.match((fromLoad as Error).message, /KEY_ENCRYPTION_KEY/);
    const fromStart = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: undefined })));
    t.ok(fromStart instanceof KeyUnavailableError, 'prepareDatabase: KeyUnavailableError');
    t.match((fromStart as Error).message, /KEY_ENCRYPTION_KEY/);
  });

  await t.test('starting with another key fails, naming KEY_ENCRYPTION_KEY', async (t) => {
    const other = randomBytes(32);
    const fromLoad = await rejection(loadKeySet(database.db, other, new Date()));
    t.ok(fromLoad instanceof KeyUnavailableError, 'loadKeySet: KeyUnavailableError');
    t.match((fromLoad as Error).message, /KEY_ENCRYPTION_KEY/);
    const fromStart = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: other })));
    t.ok(fromStart instanceof KeyUnavailableError, 'prepareDatabase: KeyUnavailableError');
    t.match((fromStart as Error).message, /KEY_ENCRYPTION_KEY/);
    t.notMatch((fromStart as Error).message, new RegExp(other.toString('base64').replace(/[+/=]/g, '.')), 'the key is not in the message');
  });

  await t.test('the failed starts changed nothing; the right key works again', async (t) => {
    const after = await keyRows(database);
    t.strictSame(
      after.map((key) => [key.kid, key.status, key.privateKey]),
      rows.map((key) => [key.kid, key.status, key.privateKey]),
    );
    await prepareDatabase(database, testConfig({ keyEncryptionKey }));
    const keySet = await loadKeySet(database.db, keyEncryptionKey, new Date());
    t.equal(keySet.active.kid, row?.kid);
  });

  await t.test('rotation keeps new keys encrypted', async (t) => {
    await rotateNow(database, keyEncryptionKey, 3600);
    for (const row of await keyRows(database)) {
      t.equal(row.encrypted, true, `${row.status} key encrypted`);
      t.notMatch(row.privateKey, /"d":/);
    }
    t.ok(await loadKeySet(database.db, keyEncryptionKey, new Date()));
  });
});

// SIGNING_ALG changed on an existing database

t.test('changing SIGNING_ALG from ES256 to RS256 publishes an RS256 key first, which then takes over', async (t) => {
  const { database } = await createTestDatabase(t);
  const es = await build(t, { database, config: { signingAlg: 'ES256' } });
  const before = await issueToken(es, 'orders');
  t.equal(decodeProtectedHeader(before.token).alg, 'ES256');
  const [oldKey] = await keyRows(database);
  if (oldKey === undefined) throw new Error('no key');

  // Before this change the switch was immediate; now the new key is published first, like
  // any rotation, so no verifier with a cached JWKS meets its kid unannounced.
  const rs = await build(t, { database, config: { signingAlg: 'RS256' } });
  let rows = await keyRows(database);
  t.equal(rows.length, 2, 'a new key was made');
  const next = rows.find((row) => row.status === 'next');
  t.equal(next?.alg, 'RS256', 'the next key is RS256');
  t.same(
    rows.filter((row) => row.status === 'active').map((row) => row.kid),
    [oldKey.kid],
    'the ES256 key still signs',
  );
  t.strictSame(new Set((await publishedJwks(rs)).keys.map((key) => key.kid)), new Set([oldKey.kid, next?.kid]), 'both keys published');
  const during = await issueToken(rs, 'invoices');
  t.equal(decodeProtectedHeader(during.token).alg, 'ES256', 'until the switch, tokens are ES256');

  rs.clock.advance(DEFAULT_PUBLICATION_LEAD_SECONDS * 1000);
  const after = await issueToken(rs, 'payments');
  const fresh = await verifyAgainstJwks(rs, after.token, after.audience);
  t.equal(fresh.protectedHeader.alg, 'RS256', 'then new tokens are RS256');
  t.equal(fresh.protectedHeader.kid, next?.kid);

  rows = await keyRows(database);
  const active = rows.filter((row) => row.status === 'active');
  t.equal(active.length, 1, 'exactly one active key');
  t.equal(active[0]?.kid, next?.kid);
  const retired = rows.find((row) => row.kid === oldKey.kid);
  t.equal(retired?.status, 'retired', 'the ES256 key is retired');
  t.ok(retired?.retiredAt instanceof Date, 'with a retirement time');
  const window = Number(retired?.publishUntil) - Number(retired?.retiredAt);
  t.ok(
    window >= rs.config.accessTokenTtl * 1000,
    `published at least as long as a token lives (${window / 1000} s ≥ ${rs.config.accessTokenTtl} s)`,
  );

  const keySet = await loadKeySet(database.db, undefined, new Date());
  t.equal(keySet.active.alg, 'RS256');
  t.strictSame(new Set(keySet.jwks.keys.map((key) => key.kid)), new Set([oldKey.kid, next?.kid]), 'both keys in the JWKS');
  const oldPublished = keySet.jwks.keys.find((key) => key.kid === oldKey.kid);
  t.equal(oldPublished?.alg, 'ES256');
  t.equal(oldPublished?.kty, 'EC');
  for (const issued of [before, during]) {
    const old = await verifyAgainstJwks(rs, issued.token, issued.audience);
    t.equal(old.protectedHeader.kid, oldKey.kid, 'a token signed before the switch still verifies');
  }

  await prepareDatabase(database, testConfig({ signingAlg: 'RS256' }));
  t.equal((await keyRows(database)).length, 2, 'starting again with RS256 makes no key');

  await prepareDatabase(database, testConfig({ signingAlg: 'EdDSA' }));
  await prepareDatabase(database, testConfig({ signingAlg: 'EdDSA' }));
  const third = await keyRows(database);
  t.equal(third.length, 3, 'on to EdDSA: one next key, however often it starts');
  t.same(
    third.filter((row) => row.status === 'next').map((row) => row.alg),
    ['EdDSA'],
  );
  await prepareDatabase(database, testConfig({ signingAlg: 'PS256' }));
  const fourth = await keyRows(database);
  const eddsa = fourth.find((row) => row.alg === 'EdDSA');
  t.equal(eddsa?.status, 'retired', 'changed again before the switch: the EdDSA next key is withdrawn (it never signed)');
  t.same(
    fourth.filter((row) => row.status === 'next').map((row) => row.alg),
    ['PS256'],
  );
  t.equal((await loadKeySet(database.db, undefined, new Date())).jwks.keys.length, 3, 'published: ES256 (retired), RS256, PS256');

  // KEY_PUBLICATION_LEAD applies to a changed SIGNING_ALG as to any rotation.
  const started = Date.now();
  await prepareDatabase(database, testConfig({ signingAlg: 'Ed25519', keyPublicationLead: 7200 }));
  const ed25519 = (await keyRows(database)).find((row) => row.status === 'next');
  t.equal(ed25519?.alg, 'Ed25519', 'on to Ed25519 (RFC 9864)');
  t.ok((ed25519?.activatesAt?.getTime() ?? 0) >= started + 7_200_000, 'it takes over KEY_PUBLICATION_LEAD later');
  t.equal((ed25519?.publicJwk as { alg?: string } | undefined)?.alg, 'Ed25519', 'published as an Ed25519 key');
});

// rotation

t.test('signing keys without KEY_ENCRYPTION_KEY, and rotation', async (t) => {
  const { database } = await createTestDatabase(t);

  await t.test('stored as they are, with a warning at start', async (t) => {
    const logs = captureLogs('info');
    await prepareDatabase(database, testConfig(), logs.logger);
    const [row] = await keyRows(database);
    t.equal(row?.encrypted, false);
    t.match(row?.privateKey, /"d":/, 'the plain private JWK');
    t.match(logs.text(), /KEY_ENCRYPTION_KEY is not set/, 'a warning at start');
  });

  await t.test('rotations keep exactly one active key', async (t) => {
    const [first] = await keyRows(database);
    const kids = [first?.kid];
    for (let i = 0; i < 3; i++) {
      const kid = await rotateNow(database, undefined, 3600);
      kids.push(kid);
      const active = await activeKeys(database);
      t.strictSame(
        active.map((row) => row.kid),
        [kid],
        `after rotation ${i + 1}, only the new key is active`,
      );
    }
    t.equal(new Set(kids).size, 4, 'every rotation made a new kid');
    const rows = await keyRows(database);
    t.equal(rows.length, 4);
    for (const row of rows.filter((r) => r.status === 'retired')) {
      t.ok(Number(row.publishUntil) - Number(row.retiredAt) >= 3600 * 1000, `retired ${row.kid} published for the token lifetime`);
    }
    const keySet = await loadKeySet(database.db, undefined, new Date());
    t.equal(keySet.active.kid, kids[3]);
    t.strictSame(new Set(keySet.jwks.keys.map((key) => key.kid)), new Set(kids), 'all keys still published');

    // A retired key whose publish window has passed leaves the JWKS.
    await database.db
      .update(signingKeys)
      .set({ publishUntil: new Date(Date.now() - 1000) })
      .where(and(eq(signingKeys.kid, kids[0] ?? ''), eq(signingKeys.status, 'retired')));
    const trimmed = await loadKeySet(database.db, undefined, new Date());
    t.notOk(
      trimmed.jwks.keys.some((key) => key.kid === kids[0]),
      'a key past its publish window is no longer published',
    );
    t.equal(trimmed.jwks.keys.length, 3);
  });

  await t.test('concurrent rotation requests publish one next key; concurrent switches happen once', async (t) => {
    const before = (await keyRows(database)).length;
    const settings = { alg: 'ES256' as const, keys: undefined, maxTokenTtl: 3600, publicationLead: DEFAULT_PUBLICATION_LEAD_SECONDS };
    const now = Date.now();
    const results = await Promise.allSettled([0, 1, 2].map(() => requestRotation(database, settings, new Date(now), TEST_ACTOR)));
    const kids = results.map((result) => (result.status === 'fulfilled' ? result.value.kid : `failed: ${String(result.reason)}`));
    t.equal(new Set(kids).size, 1, `all answer with the same next key: ${kids.join(', ')}`);
    t.equal((await keyRows(database)).length, before + 1, 'one key was made');
    const later = new Date(now + DEFAULT_PUBLICATION_LEAD_SECONDS * 1000);
    const switched = await Promise.all([0, 1, 2].map(() => applyDueRotation(database, settings, undefined, later)));
    t.same(
      switched.filter((done) => done),
      [true],
      'exactly one switch',
    );
    t.same(
      (await activeKeys(database)).map((row) => row.kid),
      [kids[0]],
      'exactly one active key: the new one',
    );
  });

  await t.test('a failed rotation does not put the private key in the error', async (t) => {
    // Make the INSERT of a new next key fail (a CHECK that only new rows must meet).
    await database.db.execute(sql`ALTER TABLE signing_keys ADD CONSTRAINT test_no_new_keys CHECK (status <> 'next') NOT VALID`);
    const error = await rejection(
      requestRotation(
        database,
        { alg: 'ES256', keys: undefined, maxTokenTtl: 3600, publicationLead: DEFAULT_PUBLICATION_LEAD_SECONDS },
        new Date(),
        TEST_ACTOR,
      ),
    );
    t.ok(error instanceof Error, 'the rotation failed');
    const text = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack ?? ''}`;
    t.notMatch(text, /"d":/, 'no private JWK in the message, the properties or the stack');
    t.notMatch(text, /params:/);
    t.match((error as Error).message, /test_no_new_keys/, "the database's reason is kept");
    t.equal((await activeKeys(database)).length, 1, 'the old key is still active (rolled back)');
  });
});

t.test('setting KEY_ENCRYPTION_KEY later encrypts keys that were stored in clear', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig({ keyEncryptionKey: undefined }));
  const [before] = await keyRows(database);
  t.equal(before?.encrypted, false);
  const keyEncryptionKey = randomBytes(32);
  await prepareDatabase(database, testConfig({ keyEncryptionKey }));
  const [after] = await keyRows(database);
  t.equal(after?.kid, before?.kid, 'the same key, not a new one');
  t.equal(after?.encrypted, true);
  t.notMatch(after?.privateKey ?? '', /"d":/, 'no private JWK in clear');
  const keys = await loadKeySet(database.db, keyEncryptionKey, new Date());
  t.equal(keys.active.kid, before?.kid);
});

t.test('a SIGNING_ALG change with a wrong KEY_ENCRYPTION_KEY fails before rotating anything', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig({ keyEncryptionKey: randomBytes(32), signingAlg: 'ES256' }));
  const error = await rejection(prepareDatabase(database, testConfig({ keyEncryptionKey: randomBytes(32), signingAlg: 'RS256' })));
  t.type(error, KeyUnavailableError);
  const rows = await keyRows(database);
  t.equal(rows.length, 1, 'no new key');
  t.equal(rows[0]?.status, 'active', 'the old key is still active');
});
