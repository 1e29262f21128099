import { eq } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { createClient } from '../../src/clients/clients.js';
import { addCredential } from '../../src/clients/credentials.js';
import { ClientDirectory } from '../../src/clients/directory.js';
import { regenerateSecret } from '../../src/clients/lifecycle.js';
import type { ClientRecord } from '../../src/clients/record.js';
import { SecretVerifier } from '../../src/clients/secret-verifier.js';
import {
  generateOpaqueSecret,
  generateSelfIdentifyingSecret,
  hashSecret,
  newCredentialId,
  secretSlot,
  storedSecret,
  verifySecret,
} from '../../src/clients/secrets.js';
import type { Db } from '../../src/db/connect.js';
import { clientCredentials, clients } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/prepare.js';
import { Admission } from '../../src/protection/admission.js';
import { rejection } from '../expect.js';
import { CLI_ACTOR, CREDENTIAL_SETTINGS, createTestDatabase, testConfig } from '../helpers.js';

/** Whether the directory finds `presented` to be a live secret of the client. */
const verifies = (directory: ClientDirectory, record: ClientRecord, presented: string, now: number) =>
  directory.verifySecret(record, presented, now).then((credentialId) => credentialId !== undefined);

/** Gives vendor-a an opaque secret, as made before self-identifying secrets (and moved over by the migration). */
async function addOpaqueSecret(db: Db, options: { slot?: 0 | 1 | null; expiresAt?: Date | null } = {}): Promise<string> {
  const secret = generateOpaqueSecret();
  const stored = await storedSecret(secret);
  const [client] = await db.select({ id: clients.id }).from(clients).where(eq(clients.clientId, 'vendor-a'));
  if (client === undefined) throw new Error('no vendor-a');
  await db.insert(clientCredentials).values({
    id: newCredentialId(),
    clientUuid: client.id,
    kind: 'secret',
    ...stored,
    slot: options.slot === undefined ? stored.slot : options.slot,
    createdBy: 'migration',
    expiresAt: options.expiresAt ?? null,
  });
  return secret;
}

// The secret verification cache, without HTTP: a real database, real argon2id, and a count
// of the argon2id verifications the directory asks for.

/** What a presented secret that matches nothing costs: one verification (see SecretVerifier). */
const WRONG = 1;

/** What the plain functions that make credentials take (MAX_CREDENTIAL_SETTINGS_PER_CLIENT, SECRET_PREFIX). */

async function setup(t: Test) {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  const { db } = database;
  const { client, clientSecret } = await createClient(db, { client_id: 'vendor-a', name: 'Vendor A', owner: 'user-1' }, CLI_ACTOR, {
    now: Date.now(),
  });
  const argon2 = { calls: 0 };
  const verifier = new SecretVerifier(new Admission(2, 8), (hash, presented) => {
    argon2.calls += 1;
    return verifySecret(hash, presented);
  });
  const directory = new ClientDirectory(db, verifier);
  const record = async (): Promise<ClientRecord> => {
    const found = await directory.find(client.client_id);
    if (found === undefined) throw new Error('client not found');
    return found;
  };
  return { db, directory, verifier, record, secret: clientSecret ?? '', argon2 };
}

t.test('a returning client pays argon2id once, also when its record is reloaded', async (t) => {
  const { directory, record, secret, argon2 } = await setup(t);
  t.equal(await verifies(directory, await record(), secret, Date.now()), true);
  t.equal(argon2.calls, 1, 'the first time costs one verification');
  t.equal(await verifies(directory, await record(), secret, Date.now()), true);
  t.equal(argon2.calls, 1, 'the second is recognised by its HMAC');
  directory.invalidate(); // what a change anywhere (the cache generation moving) does
  t.equal(await verifies(directory, await record(), secret, Date.now()), true);
  t.equal(argon2.calls, 1, 'after a reload too: the same row with the same hash');
});

t.test('a wrong secret costs a full verification every time', async (t) => {
  const { directory, record, secret, argon2 } = await setup(t);
  await verifies(directory, await record(), secret, Date.now());
  for (let i = 1; i <= 3; i++) {
    t.equal(await verifies(directory, await record(), `${secret}x`, Date.now()), false);
    t.equal(argon2.calls, 1 + WRONG * i);
  }
});

t.test('a wrong secret costs one verification with one live secret, five, opaque ones and none (an unknown client)', async (t) => {
  const { db, directory, verifier, record, secret, argon2 } = await setup(t);
  const cost = async (work: () => Promise<unknown>) => {
    const before = argon2.calls;
    await work();
    return argon2.calls - before;
  };
  const costs = async (label: string, verify: (presented: string) => Promise<unknown>) => {
    const live = (await record()).secrets.map((one) => one.id);
    // A wrong secret naming each live credential, one naming none of them, and opaque ones of both slots.
    const wrong = [...live.map((id) => generateSelfIdentifyingSecret(id)), generateSelfIdentifyingSecret(newCredentialId())];
    wrong.push(generateOpaqueSecret(0), generateOpaqueSecret(1));
    for (const presented of wrong) t.equal(await cost(() => verify(presented)), WRONG, `${label}: ${presented.slice(0, 30)}…`);
  };
  await costs('one live secret', async (presented) => verifies(directory, await record(), presented, Date.now()));
  const added: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { secret: another } = await addCredential(db, 'vendor-a', { kind: 'secret' }, CLI_ACTOR, Date.now(), CREDENTIAL_SETTINGS);
    added.push(another ?? '');
  }
  directory.invalidate();
  t.equal((await record()).secrets.length, 5, 'five live secrets');
  await costs('five live secrets', async (presented) => verifies(directory, await record(), presented, Date.now()));
  await costs('an unknown client (a dummy verification)', (presented) => verifier.refuse('nobody-here', presented));
  const current = await record();
  for (const presented of [secret, ...added]) {
    t.equal(await cost(() => verifies(directory, current, presented, Date.now())), 1, 'each of the five verifies at one verification');
  }
  await db.delete(clientCredentials);
  await addOpaqueSecret(db, { slot: 0 });
  await addOpaqueSecret(db, { slot: 1, expiresAt: new Date(Date.now() + 3600_000) });
  directory.invalidate();
  await costs('two opaque secrets, as mid-rotation before credentials', async (presented) =>
    verifies(directory, await record(), presented, Date.now()),
  );
});

t.test('an opaque secret made before slots existed still verifies, and learns its slot', async (t) => {
  const { db, directory, record, argon2 } = await setup(t);
  await db.delete(clientCredentials);
  const secret = await addOpaqueSecret(db, { slot: null });
  directory.invalidate();
  t.equal((await record()).secrets[0]?.slot, null, 'no slot, as after the migration');
  t.equal(await verifies(directory, await record(), `${secret}x`, Date.now()), false, 'a wrong secret is refused');
  t.equal(argon2.calls, WRONG, 'at the usual cost');
  t.equal(await verifies(directory, await record(), secret, Date.now()), true, 'the right one verifies, whatever its slot');
  // The slot is written in the background.
  const stored = async () => (await db.select({ slot: clientCredentials.slot }).from(clientCredentials))[0]?.slot;
  for (let i = 0; i < 100 && (await stored()) === null; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(await stored(), secretSlot(secret), 'and its slot is recorded');
});

t.test('a rotation from an opaque secret of unknown slot: both secrets verify during the grace period', async (t) => {
  const { db, directory, record } = await setup(t);
  await db.delete(clientCredentials);
  const secret = await addOpaqueSecret(db, { slot: null });
  const { clientSecret } = await regenerateSecret(db, 'vendor-a', 3600, CLI_ACTOR, Date.now(), CREDENTIAL_SETTINGS);
  directory.invalidate();
  t.equal(await verifies(directory, await record(), clientSecret, Date.now()), true, 'the new secret');
  t.equal(await verifies(directory, await record(), secret, Date.now()), true, 'the previous one');
});

t.test('a regenerated secret: the old one is refused at once, the new one starts unverified', async (t) => {
  const { db, directory, record, secret, argon2 } = await setup(t);
  await verifies(directory, await record(), secret, Date.now());
  const { clientSecret: newSecret } = await regenerateSecret(db, 'vendor-a', 0, CLI_ACTOR, Date.now(), CREDENTIAL_SETTINGS);
  directory.invalidate();
  t.equal(await verifies(directory, await record(), secret, Date.now()), false, 'the old secret is refused');
  t.equal(argon2.calls, 1 + WRONG, 'checked against the new row with argon2id, not waved through');
  t.equal(await verifies(directory, await record(), newSecret, Date.now()), true);
  t.equal(argon2.calls, 2 + WRONG, 'the new secret is verified once');
  t.equal(await verifies(directory, await record(), newSecret, Date.now()), true);
  t.equal(argon2.calls, 2 + WRONG, 'and then remembered');
});

t.test('a remembered secret is bound to the hash it verified against', async (t) => {
  const { db, directory, record, secret, argon2 } = await setup(t);
  await verifies(directory, await record(), secret, Date.now());
  const [row] = await db.select({ id: clientCredentials.id }).from(clientCredentials);
  if (row === undefined) throw new Error('no secret row');
  // The same row, another hash (nothing in Portier does this, but the cache must not care).
  await db
    .update(clientCredentials)
    .set({ hash: await hashSecret('another secret entirely') })
    .where(eq(clientCredentials.id, row.id));
  directory.invalidate();
  t.equal(await verifies(directory, await record(), secret, Date.now()), false, 'the old secret no longer verifies');
  t.equal(argon2.calls, 1 + WRONG);
});

t.test('a grace-period secret is refused once it expires, remembered or not', async (t) => {
  const { db, directory, record, secret, argon2 } = await setup(t);
  await verifies(directory, await record(), secret, Date.now());
  const { previousSecretExpiresAt } = await regenerateSecret(db, 'vendor-a', 60, CLI_ACTOR, Date.now(), CREDENTIAL_SETTINGS);
  directory.invalidate();
  const expiry = Date.parse(previousSecretExpiresAt ?? '');
  t.equal(await verifies(directory, await record(), secret, expiry - 1000), true, 'within the grace period');
  t.equal(argon2.calls, 1, 'still remembered: the same row and hash');
  t.equal(await verifies(directory, await record(), secret, expiry + 1), false, 'after it');
});

t.test('a client without live secrets still costs what a wrong secret costs', async (t) => {
  const { db, directory, record, secret, argon2 } = await setup(t);
  await db.delete(clientCredentials);
  directory.invalidate();
  t.equal(await verifies(directory, await record(), secret, Date.now()), false);
  t.equal(argon2.calls, WRONG, 'a dummy verification');
});

// A cold instance's first burst: verifications of the same presented secret for the same
// client, under way at the same time, are one argon2id run whose result they share.

/** A verifier whose argon2id verifications can be held until the test lets them finish. */
async function setupHeld(t: Test) {
  const base = await setup(t);
  const { db } = base;
  const argon2 = { calls: 0 };
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => (open = resolve));
  const verifier = new SecretVerifier(new Admission(20, 100), async (hash, presented) => {
    argon2.calls += 1;
    await gate;
    return verifySecret(hash, presented);
  });
  const directory = new ClientDirectory(db, verifier);
  const record = async (): Promise<ClientRecord> => {
    const found = await directory.find('vendor-a');
    if (found === undefined) throw new Error('client not found');
    return found;
  };
  const release = () => {
    open();
    gate = new Promise<void>((resolve) => (open = resolve));
  };
  return { ...base, directory, verifier, record, argon2, release };
}

t.test('parallel verifications of the right secret are one argon2id run', async (t) => {
  const { directory, record, secret, argon2, release } = await setupHeld(t);
  const client = await record();
  const answers = Promise.all(Array.from({ length: 20 }, () => verifies(directory, client, secret, Date.now())));
  await new Promise((resolve) => setImmediate(resolve));
  release();
  t.same(await answers, Array(20).fill(true), 'all twenty verify');
  t.equal(argon2.calls, 1, 'with one verification');
});

t.test('wrong secrets gain nothing from the merge', async (t) => {
  const { directory, verifier, record, secret, argon2, release } = await setupHeld(t);
  const client = await record();

  // Another secret than the one in flight is never answered by it: each is checked on its own.
  const right = verifies(directory, client, secret, Date.now());
  const wrong = Array.from({ length: 5 }, (_, i) => verifies(directory, client, `${secret}${i}`, Date.now()));
  const sameWrong = verifies(directory, client, `${secret}0`, Date.now());
  await new Promise((resolve) => setImmediate(resolve));
  release();
  t.equal(await right, true, 'the right secret verifies');
  t.same(await Promise.all(wrong), Array(5).fill(false), 'the wrong ones, in flight beside it, do not');
  t.equal(await sameWrong, false, 'nor does a wrong secret that joined the flight of the same wrong secret');
  t.equal(argon2.calls, 6, 'one verification per distinct secret: the right one and five wrong ones');

  // A failure is not kept: the same wrong secret again costs a verification every time.
  for (let i = 1; i <= 3; i++) {
    const again = verifies(directory, client, `${secret}0`, Date.now());
    await new Promise((resolve) => setImmediate(resolve));
    release();
    t.equal(await again, false);
    t.equal(argon2.calls, 6 + i, `the same wrong secret, try ${i}: verified again`);
  }

  // An unknown client's refusal merges in the same way, so the two cannot be told apart by it.
  const refusals = Promise.all(Array.from({ length: 5 }, () => verifier.refuse('nobody-here', 'same-guess')));
  await new Promise((resolve) => setImmediate(resolve));
  release();
  await refusals;
  t.equal(argon2.calls, 10, 'parallel refusals of the same guess for an unknown client_id: one verification');
  const others = Promise.all([verifier.refuse('nobody-here', 'guess-a'), verifier.refuse('somebody-else', 'same-guess')]);
  await new Promise((resolve) => setImmediate(resolve));
  release();
  await others;
  t.equal(argon2.calls, 12, 'another guess, or another client_id, is verified on its own');
});

t.test('admission still applies to distinct secrets; a merged request takes no place in the queue', async (t) => {
  const { db, secret } = await setup(t);
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const admission = new Admission(1, 1);
  const verifier = new SecretVerifier(admission, async (hash, presented) => {
    await gate;
    return verifySecret(hash, presented);
  });
  const directory = new ClientDirectory(db, verifier);
  const client = await directory.find('vendor-a');
  if (client === undefined) throw new Error('client not found');
  const merged = Array.from({ length: 10 }, () => verifies(directory, client, secret, Date.now()));
  const queued = verifies(directory, client, `${secret}-other`, Date.now());
  t.same(admission.load, { running: 1, waiting: 1 }, 'ten of the same secret hold one place; another secret waits');
  const refused = await rejection(verifies(directory, client, `${secret}-third`, Date.now()));
  t.equal((refused as Error).name, 'Overloaded', 'a third distinct secret finds the queue full');
  open();
  t.same(await Promise.all(merged), Array(10).fill(true));
  t.equal(await queued, false);
});

t.test('a lookup that finds no client makes a decoy lookup of the last client found, so that both cost the same', async (t) => {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  await createClient(database.db, { client_id: 'vendor-a', name: 'Vendor A', owner: 'user-1' }, CLI_ACTOR, { now: Date.now() });
  // The same database, with every statement written down as it is sent.
  const statements: string[] = [];
  const logger = { logQuery: (query: string) => void statements.push(query) };
  const { drizzle: drizzlePg } = await import('drizzle-orm/node-postgres');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const schema = await import('../../src/db/schema.js');
  const client = (database.db as unknown as { $client: never }).$client;
  const observed = database.driver === 'pg' ? drizzlePg(client, { schema, logger }) : drizzlePglite(client, { schema, logger });
  const directory = new ClientDirectory(observed as typeof database.db, new SecretVerifier(new Admission(2, 8), verifySecret));
  const lookups = () => statements.filter((statement) => /from "clients"/.test(statement)).length;

  t.equal(await directory.find('nobody-1'), undefined, 'before any client was found');
  t.equal(lookups(), 1, 'one lookup: there is no client to make a decoy of yet');
  t.equal((await directory.find('vendor-a'))?.clientId, 'vendor-a');
  t.equal(lookups(), 2, 'a lookup that finds its client: one');
  t.equal(await directory.find('nobody-2'), undefined);
  t.equal(lookups(), 4, 'a lookup that finds none: its own, and the decoy');
});
