import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { Test } from 'tap';
import { selfSignedCertificate } from '../pki.js';

/** An email the test's SMTP server got. */
export interface Mail {
  from: string;
  to: string[];
  secure: boolean;
  data: string;
}

/**
 * A real SMTP server (smtp-server) on loopback with STARTTLS on, its certificate in a file
 * for SMTP_CA_FILE; refuses the first `refuseFirst` emails (451), records the others. For
 * the tests of email notices (src/events/mail.ts).
 */
export async function startSmtp(t: Test, refuseFirst = 0): Promise<{ port: number; mails: Mail[]; caFile: string; ca: string }> {
  const { key, cert } = selfSignedCertificate('127.0.0.1');
  const mails: Mail[] = [];
  let refusals = refuseFirst;
  const server = new SMTPServer({
    key,
    cert,
    authOptional: true,
    disabledCommands: ['AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (refusals > 0) {
          refusals -= 1;
          callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
          return;
        }
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((entry) => entry.address),
          secure: session.secure,
          data: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const caFile = join(t.testdir(), 'smtp-ca.pem');
  writeFileSync(caFile, cert);
  return { port: (server.server.address() as AddressInfo).port, mails, caFile, ca: cert };
}
