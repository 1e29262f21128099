import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import t from 'tap';
import { main } from '../../src/cli/main.js';
import type { Database } from '../../src/db/connect.js';
import { auditEvents, signingKeys } from '../../src/db/schema.js';
import { DEFAULT_PUBLICATION_LEAD_SECONDS } from '../../src/keys/publication.js';
import { requestRotation } from '../../src/keys/rotation.js';
import { KeyUnavailableError, loadKeySet } from '../../src/keys/signing-keys.js';
import { decryptAtRest, encryptAtRest, sealAtRest } from '../../src/lib/crypto.js';
import { prepareDatabase } from '../../src/prepare.js';
import { rejection } from '../expect.js';
import { captureLogs, createTestDatabase, ISSUER, testConfig } from '../helpers.js';

async function keyRows(database: Database) {
  return database.db.select().from(signingKeys).orderBy(signingKeys.createdAt);
}

async function resealEvents(database: Database) {
  return database.db.select().from(auditEvents).where(eq(auditEvents.action, 'keys.resealed'));
}

/** A database prepared with `current` (and `previous`) as KEY_ENCRYPTION_KEY(_PREVIOUS). */
function prepare(database: Database, current: Buffer | undefined, previous?: Buffer) {
  return prepareDatabase(database, testConfig({ keyEncryptionKey: current, keyEncryptionKeyPrevious: previous }));
}

t.test('v2 envelopes are bound to what they were sealed for', async (t) => {
  const key = randomBytes(32);
  const sealed = sealAtRest(key, '{"secret":1}', 'portier:signing-key:a');
  t.match(sealed, /^v2\./);
  t.equal(decryptAtRest(key, sealed, 'portier:signing-key:a'), '{"secret":1}');
  t.throws(() => decryptAtRest(key, sealed, 'portier:signing-key:b'), 'another binding does not open it');
  t.throws(() => decryptAtRest(key, sealed), 'no binding does not open it');
  t.throws(() => decryptAtRest(randomBytes(32), sealed, 'portier:signing-key:a'), 'another key does not open it');
  t.equal(decryptAtRest(key, encryptAtRest(key, 'old')), 'old', 'v1 still opens');
});

t.test('a sealed private key moved onto another kid does not open', async (t) => {
  const keyEncryptionKey = randomBytes(32);
  const { database } = await createTestDatabase(t);
  await prepare(database, keyEncryptionKey);
  const settings = { alg: 'ES256' as const, keys: keyEncryptionKey, maxTokenTtl: 3600, publicationLead: DEFAULT_PUBLICATION_LEAD_SECONDS };
  const next = await requestRotation(database, settings, new Date(), { clientId: 'test', sub: null });
  const rows = await keyRows(database);
  const active = rows.find((row) => row.status === 'active');
  const nextRow = rows.find((row) => row.kid === next.kid);
  t.match(nextRow?.privateKey, /^v2\./, 'new keys are sealed as v2');
  // Someone with write access to the table puts the next key's private key under the active kid.
  await database.db
    .update(signingKeys)
    .set({ privateKey: nextRow?.privateKey ?? '' })
    .where(eq(signingKeys.kid, active?.kid ?? ''));
  const error = await rejection(loadKeySet(database.db, keyEncryptionKey, new Date()));
  t.type(error, KeyUnavailableError);
  t.match((error as Error).message, new RegExp(`KEY_ENCRYPTION_KEY does not decrypt signing key ${active?.kid}`));
});

t.test('KEY_ENCRYPTION_KEY set for the first time seals the keys stored in clear, and the change is audited', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepare(database, undefined);
  const [plain] = await keyRows(database);
  t.equal(plain?.encrypted, false);
  const keyEncryptionKey = randomBytes(32);
  const logs = captureLogs('info');
  await prepareDatabase(database, testConfig({ keyEncryptionKey }), logs.logger);
  const [sealed] = await keyRows(database);
  t.equal(sealed?.kid, plain?.kid, 'the same key');
  t.equal(sealed?.encrypted, true);
  t.match(sealed?.privateKey, /^v2\./);
  t.equal((await loadKeySet(database.db, keyEncryptionKey, new Date())).active.kid, plain?.kid, 'opens with the key');
  const events = await resealEvents(database);
  t.equal(events.length, 1, 'keys.resealed audited');
  t.same((events[0]?.details as { kids: string[] } | undefined)?.kids, [plain?.kid]);
  const d = (JSON.parse(plain?.privateKey ?? '{}') as { d: string }).d;
  t.notOk(logs.text().includes(d), 'no key material in the log');
  t.notOk(JSON.stringify(events).includes(d), 'nor in the audit trail');
  await prepareDatabase(database, testConfig({ keyEncryptionKey }));
  t.equal((await resealEvents(database)).length, 1, 'a second start has nothing to do');
});

t.test('v1 keys are read, and re-sealed as v2 at start', async (t) => {
  const keyEncryptionKey = randomBytes(32);
  const { database } = await createTestDatabase(t);
  await prepare(database, undefined);
  const [plain] = await keyRows(database);
  // What an older Portier stored.
  await database.db
    .update(signingKeys)
    .set({ privateKey: encryptAtRest(keyEncryptionKey, plain?.privateKey ?? ''), encrypted: true })
    .where(eq(signingKeys.kid, plain?.kid ?? ''));
  t.equal((await loadKeySet(database.db, keyEncryptionKey, new Date())).active.kid, plain?.kid, 'a v1 key opens');
  await prepare(database, keyEncryptionKey);
  const [row] = await keyRows(database);
  t.match(row?.privateKey, /^v2\./, 're-sealed as v2');
  t.equal((await loadKeySet(database.db, keyEncryptionKey, new Date())).active.kid, plain?.kid);
});

t.test('changing the key-encryption key: the previous key reads, start-up and `keys reseal` re-seal', async (t) => {
  const first = randomBytes(32);
  const second = randomBytes(32);
  const third = randomBytes(32);
  const { database } = await createTestDatabase(t);
  await prepare(database, first);
  const settings = { alg: 'ES256' as const, keys: first, maxTokenTtl: 3600, publicationLead: DEFAULT_PUBLICATION_LEAD_SECONDS };
  await requestRotation(database, settings, new Date(), { clientId: 'test', sub: null });
  const before = await keyRows(database);
  t.equal(before.length, 2, 'an active and a next key');

  const failed = await rejection(prepare(database, second));
  t.type(failed, KeyUnavailableError, 'the new key alone cannot open them');
  t.match((failed as Error).message, /^KEY_ENCRYPTION_KEY does not decrypt signing key /);
  t.same(
    (await keyRows(database)).map((row) => row.privateKey),
    before.map((row) => row.privateKey),
    'the failed start changed nothing',
  );

  const keySet = await loadKeySet(database.db, { current: second, previous: first }, new Date());
  t.equal(keySet.active.kid, before.find((row) => row.status === 'active')?.kid, 'with the previous key beside it, they open');
  await prepare(database, second, first);
  t.ok(
    (await keyRows(database)).every((row) => row.privateKey !== before.find((old) => old.kid === row.kid)?.privateKey),
    'every key re-sealed',
  );
  t.ok(await loadKeySet(database.db, second, new Date()), 'now the new key alone opens them');
  t.type(await rejection(loadKeySet(database.db, first, new Date())), KeyUnavailableError, 'and the old one no longer does');

  // The same through the CLI, on to a third key.
  let stdout = '';
  let stderr = '';
  const code = await main(['keys', 'reseal'], {
    out: {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    },
    env: {
      ISSUER,
      LOG_LEVEL: 'warn',
      KEY_ENCRYPTION_KEY: third.toString('base64'),
      KEY_ENCRYPTION_KEY_PREVIOUS: second.toString('base64'),
    },
    database,
  });
  t.equal(code, 0, stderr);
  const outcome = JSON.parse(stdout) as { resealed: string[]; unreadable: string[] };
  t.same(outcome.resealed.sort(), before.map((row) => row.kid).sort(), 'keys reseal: both keys');
  t.match(stderr, /sealed 2 signing key/);
  t.ok(await loadKeySet(database.db, third, new Date()), 'the third key opens them');
  const events = await resealEvents(database);
  t.equal(events.length, 2, 'each re-sealing audited');
  t.same(
    events.map((event) => event.actorClientId),
    ['system', 'cli'],
  );
  for (const secret of [first, second, third]) t.notOk(stdout.includes(secret.toString('base64')), 'no key in the output');
});

t.test('a key neither key opens stops the start with one line naming both variables', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepare(database, randomBytes(32));
  const error = await rejection(prepare(database, randomBytes(32), randomBytes(32)));
  t.type(error, KeyUnavailableError);
  t.match((error as Error).message, /^neither KEY_ENCRYPTION_KEY nor KEY_ENCRYPTION_KEY_PREVIOUS decrypts signing key \S+$/);
  const unencrypted = await rejection(prepare(database, undefined));
  t.match((unencrypted as Error).message, /is encrypted; set KEY_ENCRYPTION_KEY$/);
});

t.test('`keys reseal` without KEY_ENCRYPTION_KEY is refused', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepare(database, undefined);
  let stderr = '';
  const code = await main(['keys', 'reseal'], {
    out: {
      stdout: () => {},
      stderr: (text) => {
        stderr += text;
      },
    },
    env: { ISSUER, LOG_LEVEL: 'warn' },
    database,
  });
  t.equal(code, 1);
  t.match(stderr, /KEY_ENCRYPTION_KEY is not set/);
});
