import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import t from 'tap';
import { auditEvents } from '../../src/db/schema.js';
import { webhookDeliveries } from '../../src/db/schema-events.js';
import { basicAuth, buildWithAdmin, eventually } from '../helpers.js';
import { ancestorsIn, spansOf, startReceiver as startOtlpReceiver, startPortierOnOwnDatabase, text } from '../tracing/harness.js';
import { startReceiver } from './receiver.js';

// Webhooks carry the trace of the change onwards: an event keeps the traceparent of the span
// that wrote it, and its delivery goes out with a `traceparent` header of that trace. End to
// end with the real process exporting to an OTLP receiver and a real webhook receiver; and
// without tracing, a stored traceparent is sent as it is, and none is invented.

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

t.test("a traced admin request's webhook delivery carries its trace", async (t) => {
  const otlp = await startOtlpReceiver(t);
  const hooks = await startReceiver(t);
  const portier = await startPortierOnOwnDatabase(t, {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  });
  const { origin, adminSecret } = portier;
  const issued = await fetch(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('ops-admin', adminSecret) },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${origin}/admin`, scope: 'admin:write' }).toString(),
  });
  t.equal(issued.status, 200, 'admin token issued');
  const bearer = `Bearer ${((await issued.json()) as { access_token: string }).access_token}`;
  const admin = (path: string, body: unknown, traceparent?: string) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { authorization: bearer, 'content-type': 'application/json', ...(traceparent !== undefined && { traceparent }) },
      body: JSON.stringify(body),
    });
  t.equal((await admin('/admin/webhooks', { url: hooks.url, types: ['dev.portier.client.created'] })).status, 201, 'webhook created');

  // The caller's trace, sampled: the admin request continues it, and so does the delivery.
  const callerTraceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  const created = await admin(
    '/admin/clients',
    { client_id: 'traced', name: 'Traced', owner: 'user-1' },
    `00-${callerTraceId}-${callerSpanId}-01`,
  );
  t.equal(created.status, 201, 'client created in a traced request');
  await eventually(
    async () => hooks.received.length,
    (n) => n >= 1,
    20_000,
  );
  const [delivery] = hooks.received;
  const header = String(delivery?.headers.traceparent ?? '');
  const [, traceId, parentId, flags] = TRACEPARENT.exec(header) ?? [];
  t.equal(traceId, callerTraceId, 'the delivery carries the trace id of the admin request');
  t.equal(flags, '01', 'sampled, as the admin request was');
  t.notOk(String(delivery?.body).includes('traceparent'), 'not in the CloudEvent: the event is as recorded');

  // Another change in no trace of the caller's: its delivery is in the trace of that request, not the first one's.
  t.equal((await admin('/admin/clients', { client_id: 'untraced', name: 'Untraced', owner: 'user-1' })).status, 201);
  await eventually(
    async () => hooks.received.length,
    (n) => n >= 2,
    20_000,
  );
  const second = TRACEPARENT.exec(String(hooks.received[1]?.headers.traceparent ?? ''));
  t.ok(second, 'the second delivery carries a traceparent too');
  t.not(second?.[1], callerTraceId, 'of its own request, not the first one');

  portier.child.kill('SIGTERM');
  t.equal(await portier.exited, 0, 'stopped cleanly');
  const spans = spansOf(otlp.exports);
  const ancestors = ancestorsIn(spans);
  const server = spans.find((span) => span.traceId === callerTraceId && span.parentSpanId === callerSpanId);
  t.ok(server, "the admin request's span, under the caller's");
  const send = spans.find((span) => span.spanId === parentId);
  t.ok(send, "the traceparent's parent is a span Portier exported: the delivery's request");
  t.equal(send?.traceId, callerTraceId, 'in the same trace');
  t.equal(send && text(send, 'url.full'), hooks.url, 'the request to the webhook');
  if (send !== undefined && server !== undefined) t.ok(ancestors(send).includes(server), 'under the admin request');
  const claims = spans.filter((span) => span.traceId === callerTraceId && /webhook_deliveries/.test(String(text(span, 'db.query.text'))));
  t.same(claims, [], "the worker's own queries are no part of the admin request's trace");
});

t.test('without tracing: a stored traceparent is sent as it is, and none is made up', async (t) => {
  const server = await buildWithAdmin(t, { config: { webhooks: { allowPrivate: true, timeoutMs: 2000, maxAttempts: 15 } } });
  const receiver = await startReceiver(t);
  const created = await server.admin('POST', '/admin/webhooks', { url: receiver.url, types: ['dev.portier.client.*'], enabled: false });
  const hook = created.json() as { id: string };
  await server.admin('POST', '/admin/clients', { client_id: 'plain', name: 'Plain', owner: 'user-1' });
  await server.admin('POST', '/admin/clients/plain/disable');
  const db = server.database.db;
  const rows = await db.select().from(auditEvents).where(eq(auditEvents.clientId, 'plain'));
  t.same(
    rows.map((row) => row.traceparent),
    [null, null],
    'no span, no traceparent',
  );
  // As an instance with tracing on would have stored it (and one bad value, never sent on).
  const stored = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
  const [first, next] = rows.sort((a, b) => a.id - b.id);
  await db
    .update(auditEvents)
    .set({ traceparent: stored })
    .where(eq(auditEvents.id, first?.id ?? 0));
  await db
    .update(auditEvents)
    .set({ traceparent: 'ff-not-a-traceparent\r\nx-injected: 1' })
    .where(eq(auditEvents.id, next?.id ?? 0));
  t.equal(
    (await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, hook.id))).length,
    0,
    'a disabled webhook gets none',
  );

  // Events written while it was enabled: one stored traceparent, one bad, one none.
  await server.admin('PATCH', `/admin/webhooks/${hook.id}`, { enabled: true });
  await server.admin('POST', '/admin/clients/plain/enable');
  const [enabledEvent] = await db.select().from(auditEvents).where(eq(auditEvents.action, 'client.enabled'));
  await db.insert(webhookDeliveries).values([first, next].map((row) => ({ webhookId: hook.id, auditEventId: row?.id ?? 0 })));
  server.app.portier.deliveries.nudge();
  await eventually(
    async () => receiver.received.length,
    (n) => n >= 3,
    20_000,
  );
  const byType = (type: string) => receiver.received.find((request) => JSON.parse(request.body).type === type);
  t.equal(byType('dev.portier.client.created')?.headers.traceparent, stored, 'the stored traceparent, as it is');
  t.equal(byType('dev.portier.client.disabled')?.headers.traceparent, undefined, 'a bad one is not sent');
  t.equal(byType('dev.portier.client.enabled')?.headers.traceparent, undefined, 'none stored, none sent');
  t.ok(enabledEvent, 'the enable was recorded');
});
