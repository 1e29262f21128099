import { eq } from 'drizzle-orm';
import t from 'tap';
import { generateClientId } from '../../src/clients/rules.js';
import { auditEvents } from '../../src/db/schema.js';
import { basicAuth, buildWithAdmin, eventually, testConfig } from '../helpers.js';

// What a flood costs the audit trail. Refusals that name no existing client (made-up
// client_ids, and requests throttled before any client was looked up) are summarised per
// source address and window: the first at once, the rest of the window in one row with
// the count, how many distinct client_ids were presented and up to ten of them. The trail
// still answers who was attacked (an existing client_id is named), from where and how often.

const ATTACKER = '203.0.113.7';

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

interface AuditEvent {
  action: string;
  actor: { client_id: string | null; ip: string | null };
  client_id: string | null;
  details: Record<string, unknown>;
  count: number;
}

function tokenFrom(server: Server, clientId: string, secret: string) {
  return server.app.inject({
    method: 'POST',
    url: '/oauth/token',
    remoteAddress: ATTACKER,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    payload: 'grant_type=client_credentials',
  });
}

async function listed(server: Server, query: Record<string, string>): Promise<AuditEvent[]> {
  const response = await server.admin('GET', `/admin/audit-events?${new URLSearchParams({ limit: '200', ...query }).toString()}`);
  if (response.statusCode !== 200) throw new Error(`audit listing answered ${response.statusCode}`);
  return (response.json() as { items: AuditEvent[] }).items;
}

t.test('a 30-second random-client_id flood from one address writes a few rows that still tell what happened', async (t) => {
  // The default failure budgets; the tarpit off, so that the flood runs at the test's pace.
  const server = await buildWithAdmin(t, { config: { protection: { ...testConfig().protection, throttleDelayMs: 0 } } });
  const created = await server.admin('POST', '/admin/clients', { client_id: 'victim', name: 'Victim', owner: 'user-1' });
  t.equal(created.statusCode, 201);
  const { db } = server.database;
  const startId = (await db.select({ id: auditEvents.id }).from(auditEvents)).reduce((max, row) => Math.max(max, row.id), 0);
  server.clock.freeze();

  // 30 s on the test clock: each second 38 made-up client_ids and 2 wrong secrets for victim.
  const statuses = new Map<number, number>();
  const presented = new Set<string>();
  for (let second = 0; second < 30; second++) {
    const batch = Array.from({ length: 40 }, (_, i) => {
      if (i < 2) return tokenFrom(server, 'victim', `wrong-${second}-${i}`);
      const clientId = generateClientId();
      presented.add(clientId);
      return tokenFrom(server, clientId, 'guess');
    });
    for (const answer of await Promise.all(batch)) statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1);
    server.clock.advance(1000);
  }
  // A 503 (the argon2 queue full, when a burst of guesses arrives at once) is no refusal of a client: not audited.
  const refused = (statuses.get(401) ?? 0) + (statuses.get(429) ?? 0);
  t.equal(refused + (statuses.get(503) ?? 0), 1200, `every request refused (${JSON.stringify([...statuses])})`);
  t.ok((statuses.get(429) ?? 0) > 800, 'most of them over the failure budget');

  // The end of the window (or of the process) writes what was only counted so far.
  await eventually(
    async () => (await db.select().from(auditEvents).where(eq(auditEvents.ip, ATTACKER))).length,
    (rows) => rows >= 1,
  );
  await server.app.portier.denials.flush();
  const rows = (await db.select().from(auditEvents)).filter((row) => row.id > startId && row.action === 'token.denied');
  t.ok(rows.length <= 24, `at most a few dozen rows for 1,200 refusals (${rows.length})`);
  t.ok(
    rows.every((row) => row.ip === ATTACKER),
    'every row names the address',
  );
  t.equal(
    rows.reduce((total, row) => total + row.count, 0),
    refused,
    'how often: the rows account for every refusal',
  );

  // Who was attacked: the existing client is named; made-up client_ids only by fingerprint.
  const events = await listed(server, { action: 'token.denied' });
  const throttled = events.filter((event) => event.details.error === 'too_many_requests');
  t.ok(throttled.length >= 1 && throttled.length <= 2, `the throttled requests: one row at once, one for the rest (${throttled.length})`);
  const summary = throttled.find((event) => event.count > 1);
  t.ok(summary !== undefined, 'a summary row carries the count');
  t.match(summary?.details, { reason: 'over its failure budget', distinct_client_ids: Number });
  t.ok(Number(summary?.details.distinct_client_ids) > 700, `how many distinct client_ids (${summary?.details.distinct_client_ids})`);
  const named = [
    ...((summary?.details.client_ids as string[] | undefined) ?? []),
    ...((summary?.details.presented_client_ids as unknown[] | undefined) ?? []),
  ];
  t.ok(named.length >= 1 && named.length <= 10, `up to ten of them named (${named.length})`);
  t.ok(
    throttled.some((event) => (event.details.client_ids as string[] | undefined)?.includes('victim') || event.client_id === 'victim'),
    'the existing client among them is named by its client_id',
  );
  t.match(summary?.details.presented_client_ids, [{ fingerprint: /^[0-9a-f]{12}$/, length: Number }], 'made-up ones by a fingerprint');

  // The victim's own history shows the attack, throttled part included.
  const forVictim = await listed(server, { client_id: 'victim' });
  t.ok(
    forVictim.some((event) => event.details.error === 'too_many_requests'),
    "the victim's history lists the throttled requests that named it",
  );
  t.ok(
    forVictim.some((event) => event.details.reason === 'wrong secret'),
    'and the wrong secrets before the budget ran out',
  );

  const trail = JSON.stringify(await db.select().from(auditEvents));
  t.notOk(
    [...presented].some((clientId) => trail.includes(clientId)),
    'no made-up client_id is written as presented',
  );
});

t.test('a trickle of unknown client_ids, one a second for 3 minutes, is two rows a minute', async (t) => {
  const server = await buildWithAdmin(t, { config: { protection: { ...testConfig().protection, throttleDelayMs: 0 } } });
  const { db } = server.database;
  server.clock.freeze();
  for (let second = 0; second < 3 * 60; second++) {
    const answer = await tokenFrom(server, generateClientId(), 'guess');
    if (answer.statusCode !== 401) t.fail(`second ${second}: ${answer.statusCode}`);
    server.clock.advance(1000);
  }
  await server.app.portier.denials.flush();
  const rows = await eventually(
    async () => db.select().from(auditEvents).where(eq(auditEvents.ip, ATTACKER)),
    (found) => found.reduce((total, row) => total + row.count, 0) >= 180,
  );
  t.equal(
    rows.reduce((total, row) => total + row.count, 0),
    180,
    'every refusal is counted',
  );
  t.ok(rows.length <= 2 * 4, `about two rows a minute, not 180 (${rows.length})`);
});
