import { HTTP } from 'cloudevents';
import t, { type Test } from 'tap';
import { emailDeliveries } from '../../src/db/schema-events.js';
import { addService, buildWithAdmin, eventually } from '../helpers.js';
import { type Received, startReceiver, verifySignature } from './receiver.js';
import { startSmtp } from './smtp.js';

// Notices about each credential (client_credentials), on the test clock: its own expiry
// noticed on the right days, once each, and its expiry, delivered to a real webhook
// receiver and, to an owner that is an email address, by a real SMTP server; a removed
// credential gets none. And credential.over_policy when a maximum lifetime is lowered
// (a service's, then CREDENTIAL_MAX_LIFETIME_DAYS on a new instance), once per credential
// and limit, and never emailed.

const DAY = 24 * 3600_000;
const NOTICES = { expiryNoticeDays: [30, 7, 1], dormantClientDays: 0, dormantClientAction: 'notify' as const };
const EVENTS = { id: 'events', audience: 'https://events.example', scopes: ['events:read'] };

type Server = Awaited<ReturnType<typeof buildWithAdmin>>;
type Event = { type: string; subject?: string; data: { details: Record<string, unknown> } };

/** An admin request with a fresh token: the test clock moves past the lifetime of the last one. */
async function admin(server: Server, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) {
  return server.admin(method, url, body, await server.tokenFor());
}

/** The credential notices once there are `count` (an event is served once older transactions on the server have ended). */
const EXPIRY_TYPES = ['dev.portier.credential.expiring', 'dev.portier.credential.expired'];

async function credentialEvents(server: Server, count: number, types = EXPIRY_TYPES.join(',')): Promise<Event[]> {
  return eventually(
    async () => ((await admin(server, 'GET', `/admin/events?types=${types}&limit=200`)).json() as { items: Event[] }).items,
    (events) => events.length >= count,
    20_000,
  );
}

function summary(events: Event[], names: Record<string, string>): string[] {
  return events.map((event) => {
    const details = event.data.details;
    const which = names[String(details.credential_id)] ?? String(details.credential_id);
    const day = details.days ?? details.max_lifetime_days ?? '';
    return `${event.type.replace('dev.portier.', '')} ${event.subject} ${which} ${day}`.trim();
  });
}

async function webhook(t: Test, server: Server, types: string[]) {
  const receiver = await startReceiver(t);
  const created = await admin(server, 'POST', '/admin/webhooks', { url: receiver.url, types });
  t.equal(created.statusCode, 201);
  return { receiver, secret: (created.json() as { secret: string }).secret };
}

async function addSecret(server: Server, clientId: string, body: Record<string, unknown>): Promise<string> {
  const response = await admin(server, 'POST', `/admin/clients/${clientId}/credentials`, { kind: 'secret', ...body });
  if (response.statusCode !== 201) throw new Error(`credential not added: ${response.body}`);
  return (response.json() as { id: string }).id;
}

t.test('each credential its own expiry: noticed on the days, once each, by webhook and email', async (t) => {
  const smtp = await startSmtp(t);
  const server = await buildWithAdmin(t, {
    config: {
      notices: NOTICES,
      smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: 'Portier <portier@example.com>', ca: { file: smtp.caFile, pem: smtp.ca } },
      webhooks: { allowPrivate: true, timeoutMs: 3000, maxAttempts: 5 },
    },
  });
  const { receiver, secret } = await webhook(t, server, EXPIRY_TYPES);
  await admin(server, 'POST', '/admin/clients', { client_id: 'vendor', name: 'Vendor', owner: 'ops@example.com' });
  const now = server.clock.now();
  const names: Record<string, string> = {
    [await addSecret(server, 'vendor', { description: 'nightly job', expires_at: new Date(now + 3 * DAY).toISOString() })]: 'A',
    [await addSecret(server, 'vendor', { expires_at: new Date(now + 20 * 3600_000).toISOString() })]: 'B',
  };
  const removed = await addSecret(server, 'vendor', { expires_at: new Date(now + 2 * DAY).toISOString() });
  t.equal((await admin(server, 'DELETE', `/admin/clients/vendor/credentials/${removed}`)).statusCode, 204);
  const { notices } = server.app.portier;

  t.match(await notices.run(), { expiring: 2, expired: 0 }, 'A at 7 days, B made a day before its expiry at 1 day');
  t.match(await notices.run(), { expiring: 0, expired: 0 }, 'not again');
  server.clock.advance(2 * DAY + 12 * 3600_000);
  t.match(await notices.run(), { expiring: 1, expired: 1 });
  server.clock.advance(DAY);
  t.match(await notices.run(), { expiring: 0, expired: 1 });
  server.clock.advance(10 * DAY);
  t.match(await notices.run(), { expiring: 0, expired: 0 }, 'each expiry once');

  const events = await credentialEvents(server, 5);
  t.same(summary(events, names), [
    'credential.expiring vendor A 7',
    'credential.expiring vendor B 1',
    'credential.expiring vendor A 1',
    'credential.expired vendor B',
    'credential.expired vendor A',
  ]);
  t.match(events[0]?.data.details, { credential: 'secret', description: 'nightly job', owner: 'ops@example.com', last_used_at: null });
  t.notOk(JSON.stringify(events).includes(removed), 'the removed credential: no notice');

  const delivered = await eventually(
    async () => receiver.received,
    (received) => received.length >= 5,
    20_000,
  );
  const received = delivered.map((request: Received) => {
    const signature = /t=(\d+)/.exec(String(request.headers['portier-signature']))?.[1];
    t.ok(verifySignature(secret, request.headers['portier-signature'] as string, request.body, Number(signature)), 'signed');
    return HTTP.toEvent({ headers: request.headers as Record<string, string>, body: request.body }) as unknown as Event;
  });
  t.same(summary(received, names), summary(events, names), 'the webhook got each notice, in order');

  const mails = await eventually(
    async () => {
      server.app.portier.mail?.nudge();
      return smtp.mails;
    },
    (got) => got.length >= 5,
    20_000,
  );
  const idOfA = Object.keys(names)[0] as string;
  // Quoted-printable folds long lines with a trailing `=`, headers with a leading space.
  const unfold = (data: string) => data.replace(/=\r?\n/g, '').replace(/\r?\n /g, ' ');
  const first = mails.map((mail) => unfold(mail.data)).find((data) => data.includes(`${idOfA} ("nightly job")`));
  t.match(first, new RegExp(`^Subject: Client Vendor \\(vendor\\): its secret ${idOfA} expires on \\d{4}-\\d{2}-\\d{2}`, 'm'));
  t.match(first, /The secret cred_\w+ \("nightly job"\) of the client Vendor \(vendor\) expires on/);
  t.match(first, /http:\/\/portier\.test\/console\/clients\/vendor/);
});

t.test('credential.over_policy: once per credential and maximum lifetime, never emailed', async (t) => {
  const smtp = await startSmtp(t);
  const config = {
    // Notice days that the credentials here never reach: only the over_policy notices.
    notices: { ...NOTICES, expiryNoticeDays: [1] },
    smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: 'portier@example.com', ca: { file: smtp.caFile, pem: smtp.ca } },
    webhooks: { allowPrivate: true, timeoutMs: 3000, maxAttempts: 5 },
  };
  const server = await buildWithAdmin(t, { config });
  await addService(server.database, EVENTS);
  const { receiver } = await webhook(t, server, ['dev.portier.credential.over_policy']);
  const created = await admin(server, 'POST', '/admin/clients', {
    client_id: 'vendor',
    name: 'Vendor',
    owner: 'ops@example.com',
    grants: [{ service: 'events', scopes: ['events:read'] }],
  });
  const names: Record<string, string> = {};
  const [first] = (await admin(server, 'GET', '/admin/clients/vendor/credentials')).json().credentials as Array<{ id: string }>;
  names[String(first?.id)] = 'first';
  t.equal(created.statusCode, 201);
  await admin(server, 'POST', '/admin/clients', { client_id: 'other', name: 'Other', owner: 'ops@example.com' });
  const { notices } = server.app.portier;
  t.match(await notices.run(), { over_policy: 0 }, 'no limit, nothing over it');

  await admin(server, 'PATCH', '/admin/services/events', { credential_max_lifetime_days: 30 });
  t.match(await notices.run(), { over_policy: 1 }, 'the service lowered the limit: the first secret, never expiring');
  t.match(await notices.run(), { over_policy: 0 }, 'not again');
  names[await addSecret(server, 'vendor', {})] = 'second';
  t.match(await notices.run(), { over_policy: 0 }, 'a credential made under the limit is within it');
  await admin(server, 'PATCH', '/admin/services/events', { credential_max_lifetime_days: 10 });
  t.match(await notices.run(), { over_policy: 2 }, 'a lower limit again: both, once more');

  // A new release of the deployment sets CREDENTIAL_MAX_LIFETIME_DAYS: the other client's
  // secret is over it; the bootstrap admin's, set by the deployment, is not reported.
  const next = await buildWithAdmin(t, { config: { ...config, credentialMaxLifetimeDays: 90 }, database: server.database });
  // (It has checked at its start already: the events below show each once.)
  await next.app.portier.notices.run();
  t.match(await next.app.portier.notices.run(), { over_policy: 0 });

  const events = await credentialEvents(server, 4, 'dev.portier.credential.over_policy');
  t.same(summary(events, names), [
    'credential.over_policy vendor first 30',
    'credential.over_policy vendor first 10',
    'credential.over_policy vendor second 10',
    `credential.over_policy other ${String(events[3]?.data.details.credential_id)} 90`,
  ]);
  t.match(events[0]?.data.details, { credential: 'secret', expires_at: null, max_lifetime_days: 30, owner: 'ops@example.com' });
  t.same(await server.database.db.select().from(emailDeliveries), [], 'no email: over_policy is for the policy, not the owner');
  const delivered = await eventually(
    async () => receiver.received,
    (received) => received.length >= 4,
    20_000,
  );
  t.equal(delivered.length, 4, 'each delivered by the webhook');
});
