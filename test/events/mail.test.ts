import t, { type Test } from 'tap';
import { buildWithAdmin, eventually } from '../helpers.js';
import { startSmtp } from './smtp.js';

// Email notices, received by a real SMTP server (smtp-server) with STARTTLS on and a
// certificate of a CA made here (SMTP_CA_FILE): sent over TLS, to owners that are email
// addresses only, with the headers and the text that name the client, the date and the
// console's page; retried when the server refuses, and never twice.

const DAY = 24 * 3600_000;

async function serverWithMail(t: Test, smtp: { port: number; caFile: string; ca: string }) {
  return buildWithAdmin(t, {
    config: {
      notices: { expiryNoticeDays: [7], dormantClientDays: 0, dormantClientAction: 'notify' },
      smtp: { url: `smtp://127.0.0.1:${smtp.port}`, from: 'Portier <portier@example.com>', ca: { file: smtp.caFile, pem: smtp.ca } },
      webhooks: { allowPrivate: true, timeoutMs: 3000, maxAttempts: 5 },
    },
  });
}

t.test('an expiring client: its owner is told by email, over STARTTLS, once', async (t) => {
  const smtp = await startSmtp(t);
  const server = await serverWithMail(t, smtp);
  const expiresAt = new Date(server.clock.now() + 3 * DAY).toISOString();
  await server.admin('POST', '/admin/clients', {
    client_id: 'eaglebe',
    name: 'API Eaglebe',
    owner: 'ops@example.com',
    expires_at: expiresAt,
  });
  await server.admin('POST', '/admin/clients', { client_id: 'nomail', name: 'No mail', owner: 'user-42', expires_at: expiresAt });
  t.match(await server.app.portier.notices.run(), { expiring: 2 });
  server.app.portier.mail?.nudge();
  await eventually(
    async () => smtp.mails.length,
    (n) => n >= 1,
    20_000,
  );
  const [mail] = smtp.mails;
  t.equal(smtp.mails.length, 1, 'only the owner that is an email address');
  t.ok(mail?.secure, 'sent after STARTTLS');
  t.same(mail?.to, ['ops@example.com']);
  t.equal(mail?.from, 'portier@example.com');
  t.match(mail?.data, /^From: Portier <portier@example\.com>/m);
  t.match(mail?.data, /^To: ops@example\.com/m);
  t.match(mail?.data, /^Subject: Client API Eaglebe \(eaglebe\): its credential expires on \d{4}-\d{2}-\d{2}/m);
  t.match(mail?.data, /Content-Type: text\/plain/);
  t.match(mail?.data, /Content-Type: text\/html/);
  // Quoted-printable: long lines are folded with a trailing `=`.
  t.match(mail?.data.replace(/=\r?\n/g, ''), /http:\/\/portier\.test\/console\/clients\/eaglebe/);
  t.match(mail?.data, /in 7 day\(s\)/);

  // The notice is not given again, so no second email.
  t.match(await server.app.portier.notices.run(), { expiring: 0 });
  server.app.portier.mail?.nudge();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(smtp.mails.length, 1, 'never twice');
});

t.test('an SMTP server that refuses: tried again later', async (t) => {
  const smtp = await startSmtp(t, 1);
  const server = await serverWithMail(t, smtp);
  await server.admin('POST', '/admin/clients', {
    client_id: 'eaglebe',
    name: 'API Eaglebe',
    owner: 'ops@example.com',
    expires_at: new Date(server.clock.now() + 3600_000).toISOString(),
  });
  server.clock.advance(2 * 3600_000);
  t.match(await server.app.portier.notices.run(), { expired: 1 });
  const metrics = await eventually(
    async () => {
      server.app.portier.mail?.nudge();
      return (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
    },
    (body) => /portier_email_notices_total\{result="retry"\} 1/.test(body),
    20_000,
  );
  t.match(metrics, /portier_email_notices_total\{result="retry"\} 1/);
  t.equal(smtp.mails.length, 0);
  server.clock.advance(15_000);
  await eventually(
    async () => {
      server.app.portier.mail?.nudge();
      return smtp.mails.length;
    },
    (n) => n >= 1,
    20_000,
  );
  t.match(smtp.mails[0]?.data, /has expired/);
});
