import t from 'tap';
import { buildWithAdmin, eventually } from '../helpers.js';

// Notices on the test clock: a client's expiry noticed on the right days (the nearest day
// due only, once each), its expiry, a dormant client (disabled with
// DORMANT_CLIENT_ACTION=disable, but never the bootstrap admin), and two instances checking
// at the same moment giving each notice once.

const DAY = 24 * 3600_000;

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

/** An admin request with a fresh token: the test clock moves past the lifetime of the last one. */
async function admin(server: Server, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) {
  return server.admin(method, url, body, await server.tokenFor());
}

async function noticeEvents(
  server: Server,
): Promise<Array<{ type: string; subject?: string; data: { details: Record<string, unknown> } }>> {
  const response = await admin(server, 'GET', '/admin/events?types=dev.portier.credential.*,dev.portier.client.dormant&limit=200');
  return (response.json() as { items: Array<{ type: string; subject?: string; data: { details: Record<string, unknown> } }> }).items;
}

/**
 * The notice events once there are `count` of them: /admin/events serves an event once
 * every transaction older than it has ended, on the whole PostgreSQL server (other tests'
 * too), so it may come a moment after the notice was given.
 */
async function noticeEventsWhen(server: Server, count: number) {
  return eventually(
    () => noticeEvents(server),
    (events) => events.length >= count,
    20_000,
  );
}

function summary(events: Awaited<ReturnType<typeof noticeEvents>>): string[] {
  return events.map((event) => `${event.type.replace('dev.portier.', '')} ${event.subject} ${event.data.details.days ?? ''}`.trim());
}

t.test('expiry notices on the days configured, the nearest one due, once each', async (t) => {
  const server = await buildWithAdmin(t, {
    config: { notices: { expiryNoticeDays: [30, 7, 1], dormantClientDays: 0, dormantClientAction: 'notify' } },
  });
  const now = server.clock.now();
  await admin(server, 'POST', '/admin/clients', {
    client_id: 'later',
    name: 'Later',
    owner: 'ops@example.com',
    expires_at: new Date(now + 40 * DAY).toISOString(),
  });
  await admin(server, 'POST', '/admin/clients', {
    client_id: 'tomorrow',
    name: 'Tomorrow',
    owner: 'user-1',
    expires_at: new Date(now + 20 * 3600_000).toISOString(),
  });
  const { notices } = server.app.portier;

  t.match(await notices.run(), { expiring: 1, expired: 0 });
  t.same(summary(await noticeEventsWhen(server, 1)), ['credential.expiring tomorrow 1'], 'a day left: the 1-day notice only');
  t.match(await notices.run(), { expiring: 0, expired: 0 }, 'not again');

  server.clock.advance(10 * DAY + 3600_000);
  t.match(await notices.run(), { expiring: 1, expired: 1 });
  server.clock.advance(23 * DAY);
  await notices.run();
  server.clock.advance(6 * DAY + 12 * 3600_000);
  await notices.run();
  server.clock.advance(DAY);
  await notices.run();
  await notices.run();
  t.same(summary(await noticeEventsWhen(server, 6)), [
    'credential.expiring tomorrow 1',
    'credential.expiring later 30',
    'credential.expired tomorrow',
    'credential.expiring later 7',
    'credential.expiring later 1',
    'credential.expired later',
  ]);
  const [first] = await noticeEvents(server);
  t.match(first?.data.details, {
    credential: 'client',
    name: 'Tomorrow',
    owner: 'user-1',
    console_url: 'http://portier.test/console/clients/tomorrow',
  });

  // A new expiry date is a new credential lifetime: its notices come again.
  await admin(server, 'PATCH', '/admin/clients/later', { expires_at: new Date(server.clock.now() + 5 * DAY).toISOString() });
  await admin(server, 'POST', '/admin/clients/later/enable');
  t.match(await notices.run(), { expiring: 1 });
});

t.test('a dormant client: noticed once until used again, disabled with DORMANT_CLIENT_ACTION=disable', async (t) => {
  const server = await buildWithAdmin(t, {
    config: { notices: { expiryNoticeDays: [30], dormantClientDays: 90, dormantClientAction: 'disable' } },
  });
  await admin(server, 'POST', '/admin/clients', { client_id: 'idle', name: 'Idle', owner: 'user-1' });
  const { notices } = server.app.portier;
  t.match(await notices.run(), { dormant: 0 });
  server.clock.advance(91 * DAY);
  t.match(await notices.run(), { dormant: 1, disabled: 1 });
  t.match(await notices.run(), { dormant: 0 }, 'once');
  t.match((await admin(server, 'GET', '/admin/clients/idle')).json(), { status: 'disabled' });
  const disabled = await admin(server, 'GET', '/admin/audit-events?action=client.disabled&client_id=idle');
  t.match(disabled.json(), { items: [{ actor: { client_id: 'system' } }] }, 'the disable is audited');
  t.match((await admin(server, 'GET', '/admin/clients/root-admin')).json(), { status: 'active' }, 'the bootstrap admin stays');
  t.same(summary(await noticeEventsWhen(server, 1)), ['client.dormant idle 90']);
});

t.test('two instances checking at once give each notice once', async (t) => {
  const settings = { notices: { expiryNoticeDays: [7], dormantClientDays: 0, dormantClientAction: 'notify' as const } };
  const first = await buildWithAdmin(t, { config: settings });
  const second = await buildWithAdmin(t, { config: settings, database: first.database });
  for (let index = 0; index < 5; index += 1) {
    await admin(first, 'POST', '/admin/clients', {
      client_id: `c-${index}`,
      name: 'C',
      owner: 'user-1',
      expires_at: new Date(first.clock.now() + 3 * DAY).toISOString(),
    });
  }
  const [a, b] = await Promise.all([first.app.portier.notices.run(), second.app.portier.notices.run()]);
  t.equal((a?.expiring ?? 0) + (b?.expiring ?? 0), 5);
  t.equal((await noticeEventsWhen(first, 5)).length, 5);
});
