import { type CloudEvent, HTTP } from 'cloudevents';
import { eq } from 'drizzle-orm';
import t, { type Test } from 'tap';
import { webhookDeliveries, webhooks } from '../../src/db/schema-events.js';
import { claimDeliveries } from '../../src/events/deliveries.js';
import { buildWithAdmin, eventually, ISSUER } from '../helpers.js';
import { type Received, startReceiver, verifySignature } from './receiver.js';

// Webhooks: their rules at creation (the private-address fence, https), and deliveries to
// real HTTP receivers on loopback: signed (checked with the documented recipe), valid
// CloudEvents (checked with the cloudevents package), in order, retried with backoff on the
// test clock, given up after WEBHOOK_MAX_ATTEMPTS, no redirect followed, a slow receiver
// cut off; the webhook disabled after a day of failures; test events and redeliveries.

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;

const ALLOW_LOOPBACK = { webhooks: { allowPrivate: true, timeoutMs: 2000, maxAttempts: 15 } };

interface Delivery {
  id: string;
  event_id: string;
  type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

async function createWebhook(t: Test, server: Server, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const response = await server.admin('POST', '/admin/webhooks', body);
  t.equal(response.statusCode, 201, 'webhook created');
  return response.json() as { id: string; secret: string };
}

async function deliveries(server: Server, id: string): Promise<Delivery[]> {
  const response = await server.admin('GET', `/admin/webhooks/${id}/deliveries`);
  return (response.json() as { items: Delivery[] }).items;
}

function eventOf(request: Received): CloudEvent<Record<string, unknown>> {
  return HTTP.toEvent({ headers: request.headers as Record<string, string>, body: request.body }) as CloudEvent<Record<string, unknown>>;
}

function types(received: Received[]): string[] {
  return received.map((request) => eventOf(request).type);
}

t.test('webhook rules: https, the private-address fence, the secret shown once', async (t) => {
  const server = await buildWithAdmin(t);
  for (const [url, reason] of [
    ['http://hooks.example/portier', 'http off loopback'],
    ['https://127.0.0.1/hook', 'loopback without WEBHOOK_ALLOW_PRIVATE'],
    ['https://10.1.2.3/hook', 'a private address'],
    ['https://[::1]/hook', 'IPv6 loopback'],
    ['https://localhost/hook', 'a name that resolves to loopback'],
    ['https://user:pass@hooks.example/x', 'a password in the URL'],
    ['ftp://hooks.example/x', 'not http'],
  ] as Array<[string, string]>) {
    const response = await server.admin('POST', '/admin/webhooks', { url });
    t.equal(response.statusCode, 400, reason);
    t.match(response.json(), { errors: [{ path: '/url' }] }, reason);
  }
  for (const types of [[], ['client.created'], ['dev.portier.client.%'], ['dev.portier.']]) {
    t.equal(
      (await server.admin('POST', '/admin/webhooks', { url: 'https://93.184.215.14/h', types })).statusCode,
      400,
      JSON.stringify(types),
    );
  }
  const created = await createWebhook(t, server, {
    url: 'https://93.184.215.14/hook',
    types: ['dev.portier.client.*'],
    description: 'SIEM',
  });
  t.match(created.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  const listed = await server.admin('GET', '/admin/webhooks');
  t.notMatch(listed.body, created.secret, 'the secret is not listed');
  t.notMatch(listed.body, /"secret"/);
  const fetched = (await server.admin('GET', `/admin/webhooks/${created.id}`)).json() as Record<string, unknown>;
  t.match(fetched, { url: 'https://93.184.215.14/hook', types: ['dev.portier.client.*'], enabled: true, mode: 'structured' });
  t.equal(fetched.secret, undefined);
  const regenerated = (await server.admin('POST', `/admin/webhooks/${created.id}/secret`)).json() as { secret: string };
  t.not(regenerated.secret, created.secret);
  const audit = await server.admin('GET', '/admin/audit-events?action=webhook.secret_regenerated');
  t.notMatch(audit.body, regenerated.secret, 'no secret in the audit trail');
  t.equal((await server.admin('PATCH', `/admin/webhooks/${created.id}`, { url: 'http://hooks.example/' })).statusCode, 400);
  t.equal((await server.admin('DELETE', `/admin/webhooks/${created.id}`)).statusCode, 204);
  t.equal((await server.admin('GET', `/admin/webhooks/${created.id}`)).statusCode, 404);
  t.equal((await server.admin('GET', '/admin/webhooks/not-a-uuid')).statusCode, 400);
  const reader = await server.tokenFor('admin:read');
  t.equal((await server.admin('POST', '/admin/webhooks', { url: 'https://93.184.215.14/h' }, reader)).statusCode, 403);
});

t.test('an event is delivered signed, as a CloudEvent, in order', async (t) => {
  const server = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const receiver = await startReceiver(t);
  const hook = await createWebhook(t, server, { url: receiver.url, types: ['dev.portier.client.*'] });
  await server.admin('POST', '/admin/clients', { client_id: 'eaglebe', name: 'Eaglebe', owner: 'user-1' });
  await server.admin('POST', '/admin/clients/eaglebe/disable');
  await server.admin('POST', '/admin/services', { id: 'ledger', name: 'Ledger', audience: 'https://ledger.example', scopes: [] });
  await server.admin('POST', '/admin/clients/eaglebe/enable');
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 3,
    20_000,
  );
  t.same(types(receiver.received), ['dev.portier.client.created', 'dev.portier.client.disabled', 'dev.portier.client.enabled']);
  for (const request of receiver.received) {
    t.ok(verifySignature(hook.secret, request.headers['portier-signature'] as string, request.body, Math.floor(server.clock.now() / 1000)));
    t.notOk(
      verifySignature('whsec_wrong', request.headers['portier-signature'] as string, request.body, Math.floor(server.clock.now() / 1000)),
    );
    t.equal(request.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
    t.match(request.headers['portier-delivery'], /^\d+$/);
  }
  const first = eventOf(receiver.received[0] as Received);
  t.equal(first.source, ISSUER);
  t.equal(first.subject, 'eaglebe');
  t.match(first.data, { action: 'client.created', client_id: 'eaglebe' });
  const listed = await eventually(
    () => deliveries(server, hook.id),
    (items) => items.every((item) => item.status === 'delivered'),
  );
  t.equal(listed.length, 3);
  t.match(listed[0], { status: 'delivered', attempts: 1, last_status: 200, next_attempt_at: null });
  const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /portier_webhook_deliveries_total\{result="delivered"\} 3/);
  t.match(metrics.body, /portier_webhook_delivery_lag_seconds_count 3/);

  // Binary mode: the data as the body, the attributes as ce-* headers, signed over the body.
  await server.admin('PATCH', `/admin/webhooks/${hook.id}`, { mode: 'binary' });
  await server.admin('POST', '/admin/clients/eaglebe/disable');
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 4,
    20_000,
  );
  const binary = receiver.received[3] as Received;
  t.equal(binary.headers['ce-type'], 'dev.portier.client.disabled');
  t.match(JSON.parse(binary.body), { action: 'client.disabled' });
  t.ok(verifySignature(hook.secret, binary.headers['portier-signature'] as string, binary.body, Math.floor(server.clock.now() / 1000)));
});

t.test('a failed delivery is retried with backoff, and the next event waits its turn', async (t) => {
  const server = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const receiver = await startReceiver(t, (_, response, index) => {
    response.statusCode = index === 0 ? 503 : 200;
    response.end();
  });
  const hook = await createWebhook(t, server, { url: receiver.url, types: ['dev.portier.client.*'] });
  await server.admin('POST', '/admin/clients', { client_id: 'first', name: 'First', owner: 'user-1' });
  await server.admin('POST', '/admin/clients', { client_id: 'second', name: 'Second', owner: 'user-1' });
  const failed = await eventually(
    () => deliveries(server, hook.id),
    (items) => items.some((item) => item.attempts === 1 && item.last_status === 503),
    20_000,
  );
  const head = failed.find((item) => item.last_status === 503) as Delivery;
  const wait = Date.parse(head.next_attempt_at ?? '') - server.clock.now();
  t.ok(wait > 7000 && wait <= 12_500, `first retry about 10 s later (${wait} ms)`);
  t.match(head.last_error, /answered 503/);
  t.equal(receiver.received.length, 1, 'the next event waits behind the failing one');
  t.not((await server.admin('GET', `/admin/webhooks/${hook.id}`)).json().failing_since, null, 'failing since the first attempt');
  server.clock.advance(13_000);
  server.app.portier.deliveries.nudge();
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 3,
    20_000,
  );
  t.same(
    receiver.received.map((request) => eventOf(request).subject),
    ['first', 'first', 'second'],
    'retried, then the next one, in order',
  );
  t.equal(eventOf(receiver.received[0] as Received).id, eventOf(receiver.received[1] as Received).id, 'the same CloudEvent id again');
  await eventually(
    () => deliveries(server, hook.id),
    (items) => items.every((item) => item.status === 'delivered'),
  );
  t.equal((await server.admin('GET', `/admin/webhooks/${hook.id}`)).json().failing_since, null, 'a success ends the failing streak');
});

t.test('one event to three webhooks at once: each signed with its own secret, in its own mode, each marked delivered', async (t) => {
  const server = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const receiver = await startReceiver(t);
  const hooks = [
    await createWebhook(t, server, { url: `${receiver.url}/a`, types: ['dev.portier.client.created'] }),
    await createWebhook(t, server, { url: `${receiver.url}/b`, types: ['dev.portier.client.*'], mode: 'binary' }),
    await createWebhook(t, server, { url: `${receiver.url}/c`, types: ['*'] }),
  ];
  await server.admin('POST', '/admin/clients', { client_id: 'fanned', name: 'Fanned', owner: 'user-1' });
  // The last webhook, of every type, also gets its own webhook.created.
  const created = () => receiver.received.filter((request) => eventOf(request).type === 'dev.portier.client.created');
  await eventually(
    async () => created().length,
    (n) => n >= 3,
    20_000,
  );
  const now = Math.floor(server.clock.now() / 1000);
  const ids = new Set<string>();
  hooks.forEach((hook, index) => {
    const request = created().find(
      (entry) =>
        entry.headers['portier-delivery'] !== undefined &&
        verifySignature(hook.secret, entry.headers['portier-signature'] as string, entry.body, now),
    );
    t.ok(request, `webhook ${index}: a delivery signed with its secret`);
    if (request === undefined) return;
    const event = eventOf(request);
    ids.add(event.id);
    t.equal(
      request.headers['ce-type'] === undefined ? 'structured' : 'binary',
      index === 1 ? 'binary' : 'structured',
      `webhook ${index}: its mode`,
    );
  });
  t.equal(created().length, 3, 'once to each');
  t.equal(ids.size, 1, 'the same event to each');
  for (const hook of hooks) {
    const listed = await eventually(
      () => deliveries(server, hook.id),
      (items) => items.every((item) => item.status === 'delivered'),
    );
    t.match(
      listed.filter((item) => item.type === 'dev.portier.client.created'),
      [{ status: 'delivered', attempts: 1, last_status: 200, last_error: null }],
    );
  }
});

t.test('WEBHOOK_MAX_ATTEMPTS, redirects, slow and large answers; the webhook goes on', async (t) => {
  const server = await buildWithAdmin(t, { config: { webhooks: { allowPrivate: true, timeoutMs: 500, maxAttempts: 2 } } });
  const receiver = await startReceiver(t, (request, response) => {
    const subject = eventOf(request).subject;
    if (subject === 'redirected') {
      response.statusCode = 307;
      response.setHeader('location', '/elsewhere');
      response.end();
    } else if (subject === 'slow') {
      // Never answers: the delivery's deadline cuts it off.
    } else if (subject === 'large') {
      response.statusCode = 200;
      response.write(Buffer.alloc(1024 * 1024, 'x'));
      response.end();
    } else response.end('ok');
  });
  receiver.received.length = 0;
  const hook = await createWebhook(t, server, { url: receiver.url, types: ['dev.portier.client.created'] });
  for (const client_id of ['redirected', 'slow', 'large', 'last']) {
    await server.admin('POST', '/admin/clients', { client_id, name: client_id, owner: 'user-1' });
  }
  const finished = await eventually(
    async () => {
      server.clock.advance(60_000);
      server.app.portier.deliveries.nudge();
      return deliveries(server, hook.id);
    },
    (items) => items.length === 4 && items.every((item) => item.status !== 'pending'),
    30_000,
  );
  const bySubject = (n: number) => finished[finished.length - 1 - n] as Delivery;
  t.match(bySubject(0), { status: 'failed', attempts: 2, last_status: 307, last_error: /redirect, not followed/ });
  t.match(bySubject(1), { status: 'failed', attempts: 2, last_status: null, last_error: /no answer within 500 ms/ });
  t.match(bySubject(2), { status: 'delivered', last_status: 200 });
  t.match(bySubject(3), { status: 'delivered' });
  t.notOk(
    receiver.received.some((request) => request.headers.host?.includes('elsewhere')),
    'no redirect followed',
  );
});

t.test('a webhook failing for a day is disabled, and an event says so', async (t) => {
  const server = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const receiver = await startReceiver(t, (_, response) => {
    response.statusCode = 500;
    response.end();
  });
  const watcher = await startReceiver(t);
  const failing = await createWebhook(t, server, { url: receiver.url, types: ['dev.portier.client.*'] });
  await createWebhook(t, server, { url: watcher.url, types: ['dev.portier.webhook.disabled'] });
  await server.database.db
    .update(webhooks)
    .set({ failingSince: new Date(server.clock.now() - 25 * 3600_000) })
    .where(eq(webhooks.id, failing.id));
  await server.admin('POST', '/admin/clients', { client_id: 'eaglebe', name: 'Eaglebe', owner: 'user-1' });
  await eventually(
    async () => watcher.received.length,
    (n) => n >= 1,
    20_000,
  );
  t.match(eventOf(watcher.received[0] as Received), { type: 'dev.portier.webhook.disabled', subject: failing.id });
  t.match((await server.admin('GET', `/admin/webhooks/${failing.id}`)).json(), { enabled: false });
  // Enabled again by hand: its streak starts over.
  t.match((await server.admin('PATCH', `/admin/webhooks/${failing.id}`, { enabled: true })).json(), { enabled: true, failing_since: null });
});

t.test('test events and redeliveries', async (t) => {
  const server = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const receiver = await startReceiver(t);
  const other = await startReceiver(t);
  const hook = await createWebhook(t, server, { url: receiver.url, types: ['dev.portier.service.*'] });
  await createWebhook(t, server, { url: other.url, types: ['*'] });
  const test = await server.admin('POST', `/admin/webhooks/${hook.id}/test`);
  t.equal(test.statusCode, 202);
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 1,
    20_000,
  );
  t.equal(eventOf(receiver.received[0] as Received).type, 'dev.portier.webhook.test');
  t.notOk(types(other.received).includes('dev.portier.webhook.test'), 'a test event goes only to the webhook tested');
  const delivered = (test.json() as Delivery).id;
  const again = await server.admin('POST', `/admin/webhooks/${hook.id}/deliveries/${delivered}/redeliver`);
  t.equal(again.statusCode, 202);
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 2,
    20_000,
  );
  t.equal(eventOf(receiver.received[1] as Received).id, eventOf(receiver.received[0] as Received).id, 'the same event again');
  t.not(receiver.received[1]?.headers['portier-delivery'], receiver.received[0]?.headers['portier-delivery'], 'as another delivery');
  t.equal((await server.admin('POST', `/admin/webhooks/${hook.id}/deliveries/999999/redeliver`)).statusCode, 404);
});

t.test('the fence holds at delivery too: a stored URL that is loopback is refused when private addresses are not allowed', async (t) => {
  const server = await buildWithAdmin(t);
  const receiver = await startReceiver(t);
  // As if it had been allowed when it was made, or its name resolved elsewhere then.
  const [row] = await server.database.db
    .insert(webhooks)
    .values({ url: receiver.url.replace('127.0.0.1', 'localhost'), types: ['*'], secret: 'whsec_x' })
    .returning();
  await server.admin('POST', '/admin/clients', { client_id: 'eaglebe', name: 'Eaglebe', owner: 'user-1' });
  const items = await eventually(
    () => deliveries(server, row?.id ?? ''),
    (list) => list.some((item) => item.last_error !== null),
    20_000,
  );
  t.match(
    items.find((item) => item.last_error !== null),
    { status: 'pending', last_status: null, last_error: /non-public address/ },
  );
  t.equal(receiver.received.length, 0, 'nothing reached the receiver');
});

t.test('two instances, one database: each event delivered once; an instance stopped mid-delivery loses nothing', async (t) => {
  const first = await buildWithAdmin(t, { config: ALLOW_LOOPBACK });
  const second = await buildWithAdmin(t, { config: ALLOW_LOOPBACK, database: first.database });
  let hang = true;
  const receiver = await startReceiver(t, (request, response) => {
    // The first delivery of `held` never gets an answer from this receiver.
    if (hang && eventOf(request).subject === 'held') {
      hang = false;
      return;
    }
    response.end('ok');
  });
  const hook = await createWebhook(t, first, { url: receiver.url, types: ['dev.portier.client.created'] });
  for (let index = 0; index < 10; index += 1) {
    const server = index % 2 === 0 ? first : second;
    await server.admin('POST', '/admin/clients', { client_id: `client-${index}`, name: 'Client', owner: 'user-1' });
  }
  await eventually(
    () => deliveries(first, hook.id),
    (items) => items.length === 10 && items.every((item) => item.status === 'delivered'),
    30_000,
  );
  const ids = receiver.received.map((request) => eventOf(request).id);
  t.equal(ids.length, 10, 'ten deliveries');
  t.equal(new Set(ids).size, 10, 'each event once');

  // `held`: one instance sends it and stops before any answer, as if killed.
  await first.admin('POST', '/admin/clients', { client_id: 'held', name: 'Held', owner: 'user-1' });
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 11,
    20_000,
  );
  await Promise.all([first.app.close(), second.app.close()]);
  const [leased] = await first.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.status, 'pending'));
  t.ok(leased?.leaseUntil, 'left leased, unrecorded');
  const third = await buildWithAdmin(t, { config: ALLOW_LOOPBACK, database: first.database });
  t.same(await claimDeliveries(third.database.db, third.clock.now(), 1000, 10), [], 'not taken over while leased');
  third.clock.advance(60_000);
  third.app.portier.deliveries.nudge();
  await eventually(
    () => deliveries(third, hook.id),
    (items) => items.every((item) => item.status === 'delivered'),
    20_000,
  );
  t.same(
    receiver.received.slice(10).map((request) => eventOf(request).subject),
    ['held', 'held'],
    'sent again by another instance: at least once',
  );
});
