import { count } from 'drizzle-orm';
import t from 'tap';
import { newCredentialId } from '../../src/clients/secrets.js';
import type { Database } from '../../src/db/connect.js';
import {
  BATCH_SIZE,
  CREDENTIAL_KEPT_DAYS,
  type PruneReport,
  pruneExpired,
  RETENTION_INTERVAL_MS,
  RETENTION_RETRY_MS,
  RetentionJob,
  type Timers,
} from '../../src/db/retention.js';
import { auditEvents, clientCredentials, clients, consoleSessions, quotaCounts, revokedTokens, usedJwtIds } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/prepare.js';
import { build, captureLogs, createTestDatabase, eventually, runCli, testConfig } from '../helpers.js';

// Retention: what each rule deletes and keeps, the batches, the lock that lets one
// instance prune at a time, the job's schedule (at start, hourly, a minute after a
// failure) and `portier prune`.

const DAY = 24 * 3600 * 1000;

async function preparedDatabase(t: Parameters<typeof createTestDatabase>[0]): Promise<Database> {
  const { database } = await createTestDatabase(t);
  await prepareDatabase(database, testConfig());
  return database;
}

/** Rows of every pruned table, some past their time at `now` and some not. */
async function seed(database: Database, now: number): Promise<void> {
  const { db } = database;
  await db.insert(auditEvents).values([
    { action: 'client.created', at: new Date(now - 400 * DAY) },
    { action: 'client.updated', at: new Date(now - 366 * DAY) },
    { action: 'client.updated', at: new Date(now - 364 * DAY) },
    { action: 'token.denied', at: new Date(now - DAY) },
  ]);
  await db.insert(revokedTokens).values([
    { jti: 'expired', expiresAt: new Date(now - 1000) },
    { jti: 'live', expiresAt: new Date(now + 3600_000) },
  ]);
  await db.insert(usedJwtIds).values([
    { scope: 'dpop:a', jti: 'expired', expiresAt: new Date(now - 1000) },
    { scope: 'dpop:a', jti: 'live', expiresAt: new Date(now + 60_000) },
  ]);
  const [client] = await db.insert(clients).values({ clientId: 'c1', name: 'C', owner: 'o', createdBy: 'test' }).returning();
  if (client === undefined) throw new Error('no client');
  // Expired and revoked credentials are listed for CREDENTIAL_KEPT_DAYS, then pruned.
  const kept = CREDENTIAL_KEPT_DAYS * 86_400_000;
  const credential = (hash: string, expiresAt: Date | null, revokedAt: Date | null = null) => ({
    id: newCredentialId(),
    clientUuid: client.id,
    kind: 'secret' as const,
    hash,
    createdBy: 'test',
    expiresAt,
    revokedAt,
    revokedReason: revokedAt === null ? null : ('removed' as const),
  });
  await db
    .insert(clientCredentials)
    .values([
      credential('current', null),
      credential('in-grace', new Date(now + 3600_000)),
      credential('expired-lately', new Date(now - 1000)),
      credential('grace-over', new Date(now - kept - 1000)),
    ]);
}

async function rows(database: Database) {
  const { db } = database;
  return {
    audit: (await db.select({ action: auditEvents.action }).from(auditEvents).orderBy(auditEvents.at)).map((row) => row.action),
    revoked: (await db.select({ jti: revokedTokens.jti }).from(revokedTokens)).map((row) => row.jti),
    jwtIds: (await db.select({ jti: usedJwtIds.jti }).from(usedJwtIds)).map((row) => row.jti),
    secrets: (await db.select({ hash: clientCredentials.hash }).from(clientCredentials)).map((row) => row.hash ?? '').sort(),
  };
}

t.test('each rule deletes what is past its time, and nothing else', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await seed(database, now);
  const report = await pruneExpired(database, { now, auditRetentionDays: 365 });
  t.same(report, { audit_events: 2, revoked_tokens: 1, used_jwt_ids: 1, client_credentials: 1 });
  t.same(await rows(database), {
    audit: ['client.updated', 'token.denied'],
    revoked: ['live'],
    jwtIds: ['live'],
    secrets: ['current', 'expired-lately', 'in-grace'],
  });
  t.same(await pruneExpired(database, { now, auditRetentionDays: 365 }), {}, 'a second run finds nothing');
});

t.test("the other growing tables: people's sessions past their limit, quota counts older than two days", async (t) => {
  const database = await preparedDatabase(t);
  const { db } = database;
  const now = Date.now();
  const session = (id: string, expiresAt: number) => ({
    tokenHash: id,
    subject: `https://idp.example#${id}`,
    name: id,
    owner: `${id}@example.com`,
    role: 'operator' as const,
    createdAt: new Date(now - DAY),
    lastSeenAt: new Date(now - 1000),
    expiresAt: new Date(expiresAt),
  });
  await db.insert(consoleSessions).values([session('over', now - 1000), session('signed-in', now + 3600_000)]);
  const [client] = await db.insert(clients).values({ clientId: 'c2', name: 'C', owner: 'o', createdBy: 'test' }).returning();
  if (client === undefined) throw new Error('no client');
  await db.insert(quotaCounts).values([
    { clientUuid: client.id, hourStart: new Date(now - 3 * DAY), tokens: 5 },
    { clientUuid: client.id, hourStart: new Date(now - DAY), tokens: 7 },
  ]);
  t.match(await pruneExpired(database, { now, auditRetentionDays: 365 }), { console_sessions: 1, quota_counts: 1 });
  t.same(
    (await db.select({ name: consoleSessions.name }).from(consoleSessions)).map((row) => row.name),
    ['signed-in'],
  );
  t.same(
    (await db.select({ tokens: quotaCounts.tokens }).from(quotaCounts)).map((row) => row.tokens),
    [7],
    'the day counts are kept',
  );
});

t.test('AUDIT_RETENTION_DAYS=0 keeps every audit event', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await seed(database, now);
  const report = await pruneExpired(database, { now, auditRetentionDays: 0 });
  t.notOk('audit_events' in report, 'no audit event deleted');
  t.equal((await rows(database)).audit.length, 4);
  t.equal(report.revoked_tokens, 1, 'the other rules still apply');
});

t.test('batches: many rows go in batches of at most the batch size', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await database.db
    .insert(auditEvents)
    .values(Array.from({ length: 25 }, (_, i) => ({ action: 'old', at: new Date(now - 400 * DAY + i) })));
  await database.db.insert(auditEvents).values({ action: 'recent', at: new Date(now) });
  const batches: number[] = [];
  // Counts each batch's transaction: the real database, with the number of rows left seen after each.
  const counting: Database = {
    ...database,
    tryExclusive: async (name, fn) => {
      const outcome = await database.tryExclusive(name, fn);
      if (name === 'retention' && outcome !== undefined) batches.push(outcome.value as number);
      return outcome;
    },
  };
  const report = await pruneExpired(counting, { now, auditRetentionDays: 365 }, { batchSize: 10 });
  t.same(report, { audit_events: 25 });
  t.same(batches.slice(0, 3), [10, 10, 5], 'audit events: 10, 10, then the last 5');
  t.ok(
    batches.every((deleted) => deleted <= 10),
    'no batch deletes more than the batch size',
  );
  const [left] = await database.db.select({ n: count() }).from(auditEvents);
  t.equal(left?.n, 1, 'the recent event stays');
  t.equal(BATCH_SIZE, 10_000, 'the default batch is 10,000 rows');
});

t.test('one instance at a time: while another holds the lock, a run stops and deletes nothing', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await seed(database, now);
  let release: () => void = () => {};
  let holding: () => void = () => {};
  const taken = new Promise<void>((resolve) => (holding = resolve));
  // Another transaction holds the retention lock (on PostgreSQL: on another connection).
  const other = database.exclusive('retention', async () => {
    holding();
    await new Promise<void>((resolve) => (release = resolve));
  });
  await taken;
  const report = await pruneExpired(database, { now, auditRetentionDays: 365 });
  t.same(report, {}, 'nothing deleted');
  release();
  await other;
  t.equal((await rows(database)).audit.length, 4, 'the rows are still there');
  t.same(await pruneExpired(database, { now, auditRetentionDays: 365 }), {
    audit_events: 2,
    revoked_tokens: 1,
    used_jwt_ids: 1,
    client_credentials: 1,
  });
});

/** Timers the test fires itself: what is scheduled, and after how long. */
function manualTimers() {
  const pending = new Map<number, { callback: () => void; ms: number }>();
  let next = 0;
  const timers: Timers = {
    set: (callback, ms) => {
      next += 1;
      pending.set(next, { callback, ms });
      return next;
    },
    clear: (handle) => void pending.delete(handle as number),
  };
  return {
    timers,
    /** The delays of the timers waiting now. */
    delays: () => [...pending.values()].map((timer) => timer.ms),
    /** Fires every waiting timer. */
    fire: () => {
      const due = [...pending.values()];
      pending.clear();
      for (const timer of due) timer.callback();
    },
  };
}

t.test('the job: at start, then hourly; a failed run (database down) is tried again a minute later', async (t) => {
  const database = await preparedDatabase(t);
  let now = Date.now();
  await seed(database, now);
  let down = false;
  // An outage, as a database that refuses connections shows it.
  const flaky: Database = {
    ...database,
    tryExclusive: (name, fn) =>
      down
        ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))
        : database.tryExclusive(name, fn),
  };
  const pruned: PruneReport[] = [];
  const errors: unknown[] = [];
  const clock = manualTimers();
  const driven = new RetentionJob(
    flaky,
    () => ({ now, auditRetentionDays: 365 }),
    { onPruned: (report) => pruned.push(report), onError: (error) => errors.push(error) },
    clock.timers,
  );
  t.teardown(() => driven.stop());

  driven.start();
  t.same(clock.delays(), [0], 'the first run is due at once');
  clock.fire();
  await eventually(
    async () => clock.delays(),
    (delays) => delays.length > 0,
  );
  t.same(pruned, [{ audit_events: 2, revoked_tokens: 1, used_jwt_ids: 1, client_credentials: 1 }], 'the first run pruned');
  t.same(clock.delays(), [RETENTION_INTERVAL_MS], 'the next run is an hour later');

  // The database goes away: the run fails, is reported, and is tried again a minute later.
  down = true;
  now += 2 * DAY;
  await database.db.insert(revokedTokens).values({ jti: 'later', expiresAt: new Date(now - DAY) });
  clock.fire();
  await eventually(
    async () => clock.delays(),
    (delays) => delays.length > 0,
  );
  t.equal(errors.length, 1, 'the failure is reported');
  t.match(String(errors[0]), /ECONNREFUSED/);
  t.same(clock.delays(), [RETENTION_RETRY_MS], 'and tried again in a minute');

  // Back: the retry prunes what accumulated meanwhile.
  down = false;
  clock.fire();
  await eventually(
    async () => clock.delays(),
    (delays) => delays.length > 0,
  );
  // Two days on, what was still live at the first run has expired too (a credential that
  // expired since is still listed, for CREDENTIAL_KEPT_DAYS).
  t.same(pruned.at(-1), { audit_events: 1, revoked_tokens: 2, used_jwt_ids: 1 }, 'the retry pruned');
  t.same(clock.delays(), [RETENTION_INTERVAL_MS], 'and the hourly rhythm resumes');

  await driven.stop();
  t.same(clock.delays(), [], 'stop clears the timer');
});

t.test('the server prunes at start, on its own', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await seed(database, now);
  const logs = captureLogs('info');
  await build(t, { database, logger: logs.logger });
  const left = await eventually(
    () => rows(database),
    (found) => found.revoked.length === 1,
  );
  t.same(left.revoked, ['live'], 'the expired revocation went');
  // The notice sweep that also runs at start adds its own, new events about the seeded
  // credentials (credential.expiring, credential.expired): not what retention is about.
  const kept = left.audit.filter((action) => !action.startsWith('credential.'));
  t.same(kept, ['client.updated', 'token.denied'], 'and the audit events past a year');
  const line = await eventually(
    async () => logs.lines().find((entry) => entry.msg === 'retention: expired rows deleted'),
    (found) => found !== undefined,
  );
  t.same(line?.deleted, { audit_events: 2, revoked_tokens: 1, used_jwt_ids: 1, client_credentials: 1 }, 'and logged what went');
});

t.test('portier prune deletes now, with AUDIT_RETENTION_DAYS from the environment', async (t) => {
  const database = await preparedDatabase(t);
  const now = Date.now();
  await seed(database, now);
  const env = { ISSUER: 'http://portier.test', LOG_LEVEL: 'warn', AUDIT_RETENTION_DAYS: '30' };
  const first = await runCli(database, ['prune'], env);
  t.equal(first.code, 0, first.stderr);
  t.same(JSON.parse(first.stdout), { deleted: { audit_events: 3, revoked_tokens: 1, used_jwt_ids: 1, client_credentials: 1 } });
  t.match(first.stderr, /deleted 6 expired row\(s\)/);
  const again = await runCli(database, ['prune'], env);
  t.same(JSON.parse(again.stdout), { deleted: {} }, 'nothing left to delete');
  const wrong = await runCli(database, ['prune', 'everything'], env);
  t.equal(wrong.code, 1, 'an argument is a usage error');
});
