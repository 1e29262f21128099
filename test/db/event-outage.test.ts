/**
 * PostgreSQL stopped while events wait for delivery: the events written before the stop
 * are delivered once it is back, each once, in order, with its CloudEvents id; a change
 * refused during the outage (503, never 500) sends no event; the delivery worker's failed
 * looks end no process and leave no delivery behind.
 *
 * The outage is real: Portier talks to PostgreSQL through a TCP relay that the test stops
 * (connections refused, open ones cut) and starts again. The retry that falls due during
 * the outage is due on the test clock (advanced by the outage's 10 s); the relay itself is
 * down only until the worker has failed to reach the database.
 */
import { type CloudEvent, HTTP } from 'cloudevents';
import t from 'tap';
import { connectDatabase } from '../../src/db/connect.js';
import { type Received, startReceiver } from '../events/receiver.js';
import { buildWithAdmin, captureLogs, createTestDatabase, eventually } from '../helpers.js';
import { startRelay } from './stand-ins.js';

const onPostgres = Boolean(process.env.DATABASE_URL);
const OUTAGE_MS = 10_000;
const WORKER_ERROR = 'webhook deliveries: reading or recording them failed';
const CHANGES = ['first', 'second', 'third', 'fourth', 'fifth'];

function eventOf(request: Received): CloudEvent<Record<string, unknown>> {
  return HTTP.toEvent({ headers: request.headers as Record<string, string>, body: request.body }) as CloudEvent<Record<string, unknown>>;
}

t.test(
  'PostgreSQL stopped for 10 s: no event lost, each delivered after it is back',
  { skip: !onPostgres && 'needs DATABASE_URL (PostgreSQL): the outage is a TCP relay in front of a PostgreSQL server' },
  async (t) => {
    const { databaseUrl } = await createTestDatabase(t);
    if (databaseUrl === undefined) throw new Error('expected PostgreSQL');
    const link = await startRelay(t, new URL(databaseUrl));
    const database = await connectDatabase({ databaseUrl: link.url, databaseConnectTimeout: 2_000 });
    t.teardown(() => database.close().catch(() => {}));
    const logs = captureLogs('info');
    const server = await buildWithAdmin(t, {
      database,
      logger: logs.logger,
      config: { webhooks: { allowPrivate: true, timeoutMs: 2_000, maxAttempts: 15 } },
    });
    // The receiver refuses the first event once (it waits for its retry, the others behind
    // it), then takes everything, answering each by the time it is recorded.
    const receiver = await startReceiver(t, (_, response, index) => {
      response.statusCode = index === 0 ? 503 : 200;
      response.end();
    });
    const hook = await server.admin('POST', '/admin/webhooks', { url: receiver.url, types: ['dev.portier.client.*'] });
    t.equal(hook.statusCode, 201, 'webhook created');

    // Admin changes just before the stop: written with their events, not yet delivered.
    for (const client_id of CHANGES) {
      const created = await server.admin('POST', '/admin/clients', { client_id, name: client_id, owner: 'team-a' });
      t.equal(created.statusCode, 201, `${client_id} created`);
    }
    await eventually(
      async () => receiver.received.length,
      (n) => n >= 1,
      10_000,
    );
    t.equal(receiver.received.length, 1, 'the first event was refused once; the others wait behind it');
    // The list shows an event once every older transaction has ended (the worker's own may
    // still be open for a moment). The bootstrap admin client's creation is an event too.
    const written = await eventually(
      async () => {
        const page = (await server.admin('GET', '/admin/events?types=dev.portier.client.created')).json() as {
          items: Array<{ id: string; subject: string }>;
        };
        return { items: page.items.filter((event) => CHANGES.includes(event.subject)) };
      },
      (page) => page.items.length >= CHANGES.length,
      10_000,
    );
    t.same(
      written.items.map((event) => event.subject),
      CHANGES,
      'every change has its event',
    );

    await link.stop();
    // During the outage: a change fails as it does without events (503, never 500), and the
    // retry falls due while the worker cannot reach the database.
    const refused = await server.admin('POST', '/admin/clients', { client_id: 'during', name: 'During', owner: 'team-a' });
    t.equal(refused.statusCode, 503, 'a change during the outage: 503');
    server.clock.advance(OUTAGE_MS);
    server.app.portier.deliveries.nudge();
    const failedLook = await eventually(
      async () => logs.text().includes(WORKER_ERROR),
      (seen) => seen,
      10_000,
    );
    t.ok(failedLook, 'the worker could not reach the database, and said so');
    t.equal(receiver.received.length, 1, 'nothing is sent while the database is away');
    await link.start();

    server.app.portier.deliveries.nudge();
    const all = await eventually(
      async () => receiver.received.length,
      (n) => n >= CHANGES.length + 1,
      20_000,
    );
    t.equal(all, CHANGES.length + 1, 'the refused one again, then every other once');
    const events = receiver.received.map(eventOf);
    t.same(
      events.map((event) => event.id),
      [written.items[0]?.id, ...written.items.map((event) => event.id)],
      'in order, by their ids: the first twice (refused, then accepted), each other once',
    );
    t.same(
      events.map((event) => event.subject),
      [CHANGES[0], ...CHANGES],
      'no event for the change refused during the outage',
    );

    const deliveries = await eventually(
      async () =>
        (
          (await server.admin('GET', `/admin/webhooks/${(hook.json() as { id: string }).id}/deliveries`)).json() as {
            items: Array<{ status: string; attempts: number }>;
          }
        ).items,
      (items) => items.every((item) => item.status === 'delivered'),
    );
    t.equal(deliveries.length, CHANGES.length, 'one delivery per event');
    t.same(
      deliveries.map((item) => item.status),
      CHANGES.map(() => 'delivered'),
      'all delivered',
    );
    t.same(deliveries.map((item) => item.attempts).sort(), [1, 1, 1, 1, 2], 'one retry (the refusal), no attempt lost to the outage');
    // Every delivery recorded as delivered: none is sent again.
    t.equal(receiver.received.length, CHANGES.length + 1, 'nothing delivered twice');
  },
);
