import { eq, sql } from 'drizzle-orm';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Db } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { emailDeliveries } from '../db/schema-events.js';
import { retryDelayMs } from './deliveries.js';

/**
 * Email notices to clients' owners (events/notices.ts writes them with the notice): sent
 * by every instance's MailWorker through SMTP_URL with nodemailer (STARTTLS where the
 * server offers it on smtp://, TLS from the start on smtps://). Like webhook deliveries,
 * each is claimed with SKIP LOCKED and leased while it is sent, retried with backoff up to
 * WEBHOOK_MAX_ATTEMPTS, and never sent twice unless an instance stopped between the
 * server's acceptance and the record of it.
 */

export interface MailSettings {
  url: string;
  from: string;
  /** SMTP_CA_FILE's certificates. */
  ca: string | undefined;
  maxAttempts: number;
  timeoutMs: number;
}

type EventRow = typeof auditEvents.$inferSelect;

export interface NoticeEmail {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

/**
 * Which credential a notice is about, in words: one of the client's credentials (its kind,
 * id and description), or the client's own expiry (`credential: 'client'`).
 */
function credentialInWords(details: Record<string, unknown>, client: string): { short: string; long: string } {
  const id = details.credential_id;
  if (typeof id !== 'string') return { short: 'its credential', long: `The credential of the client ${client}` };
  const kind = details.credential === 'public_key' ? 'public key' : 'secret';
  const described = typeof details.description === 'string' && details.description !== '' ? ` ("${details.description}")` : '';
  return { short: `its ${kind} ${id}`, long: `The ${kind} ${id}${described} of the client ${client}` };
}

/** The email of a notice: naming the client, the credential, the date, and the client's page in the console. */
export function noticeEmail(event: EventRow): NoticeEmail {
  const details = event.details as Record<string, unknown>;
  const text = (name: string) => (typeof details[name] === 'string' ? (details[name] as string) : '');
  const client = `${text('name')} (${event.clientId ?? ''})`;
  const credential = credentialInWords(details, client);
  const date = text('expires_at').slice(0, 10);
  let subject: string;
  let lines: string[];
  switch (event.action) {
    case 'credential.expiring':
      subject = `Client ${client}: ${credential.short} expires on ${date}`;
      lines = [
        `${credential.long} expires on ${text('expires_at')}, in ${String(details.days)} day(s).`,
        'After that, it gets no more tokens. Renew it before then.',
      ];
      break;
    case 'credential.expired':
      subject = `Client ${client}: ${credential.short} has expired`;
      lines = [`${credential.long} expired on ${text('expires_at')}. It gets no more tokens.`];
      break;
    default:
      subject = `Client ${client} has not been used for ${String(details.days)} days`;
      lines = [
        `The client ${client} has not asked for a token for ${String(details.days)} days (last use: ${text('last_used_at') || 'never'}).`,
        details.action === 'disable'
          ? 'It has been disabled. Enable it again if it is still needed.'
          : 'If it is no longer needed, delete it.',
      ];
  }
  const link = text('console_url');
  return {
    subject,
    text: `${lines.join('\n\n')}\n\nThe client in the console: ${link}\n\n-- Portier\n`,
    html: `${lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}\n<p><a href="${escapeHtml(link)}">The client in the console</a></p>\n<p>-- Portier</p>\n`,
  };
}

/** The lease of a claimed email: the send's timeout and a margin. */
const LEASE_MARGIN_MS = 30_000;
const POLL_MS = 1000;

interface ClaimedEmail {
  id: number;
  attempts: number;
  recipient: string;
  leaseUntil: Date;
  event: EventRow;
}

async function claimEmails(db: Db, now: number, leaseMs: number, limit: number): Promise<ClaimedEmail[]> {
  const at = new Date(now).toISOString();
  const leaseUntil = new Date(now + leaseMs);
  const claimed = (await db.execute(sql`
    UPDATE ${emailDeliveries} SET lease_until = ${leaseUntil.toISOString()}::timestamptz, attempts = ${emailDeliveries.attempts} + 1
    WHERE ${emailDeliveries.id} IN (
      SELECT id FROM ${emailDeliveries}
      WHERE status = 'pending'
        AND (next_attempt_at IS NULL OR next_attempt_at <= ${at}::timestamptz)
        AND (lease_until IS NULL OR lease_until <= ${at}::timestamptz)
      ORDER BY id LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING ${emailDeliveries.id} AS id`)) as unknown as { rows: Array<{ id: string | number }> };
  const result: ClaimedEmail[] = [];
  for (const { id } of claimed.rows) {
    const [row] = await db
      .select({ email: emailDeliveries, event: auditEvents })
      .from(emailDeliveries)
      .innerJoin(auditEvents, eq(auditEvents.id, emailDeliveries.auditEventId))
      .where(eq(emailDeliveries.id, Number(id)));
    if (row !== undefined)
      result.push({ id: row.email.id, attempts: row.email.attempts, recipient: row.email.recipient, leaseUntil, event: row.event });
  }
  return result;
}

/**
 * Sends the email notices; on every instance, outside the token path. Looks every second
 * and at `nudge`; a database or SMTP failure is reported, and the email tried again later.
 */
export class MailWorker {
  private readonly transport: Transporter;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly settings: MailSettings,
    private readonly clock: () => number,
    private readonly observer: { sent(result: 'sent' | 'retry' | 'failed'): void; error(error: unknown): void },
  ) {
    this.transport = nodemailer.createTransport({
      url: settings.url,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
      ...(settings.ca !== undefined && { tls: { ca: settings.ca } }),
    } as Parameters<typeof nodemailer.createTransport>[0]);
  }

  start(): void {
    this.stopped = false;
    this.nudge();
  }

  nudge(): void {
    if (this.stopped || this.running !== undefined) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.nudge(), POLL_MS).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
    this.transport.close();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.stopped) return;
        const claimed = await claimEmails(this.db, this.clock(), this.settings.timeoutMs * 3 + LEASE_MARGIN_MS, 10);
        if (claimed.length === 0) return;
        for (const email of claimed) await this.send(email);
      }
    } catch (error) {
      this.observer.error(error);
    }
  }

  private async send(email: ClaimedEmail): Promise<void> {
    const message = noticeEmail(email.event);
    let error: string | undefined;
    try {
      await this.transport.sendMail({ from: this.settings.from, to: email.recipient, ...message });
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    const now = this.clock();
    const gaveUp = error !== undefined && email.attempts >= this.settings.maxAttempts;
    await this.db
      .update(emailDeliveries)
      .set(
        error === undefined
          ? { status: 'delivered', leaseUntil: null, lastError: null, finishedAt: new Date(now) }
          : {
              status: gaveUp ? 'failed' : 'pending',
              leaseUntil: null,
              lastError: error.slice(0, 500),
              nextAttemptAt: gaveUp ? null : new Date(now + retryDelayMs(email.attempts)),
              finishedAt: gaveUp ? new Date(now) : null,
            },
      )
      .where(eq(emailDeliveries.id, email.id));
    this.observer.sent(error === undefined ? 'sent' : gaveUp ? 'failed' : 'retry');
    if (error !== undefined) this.observer.error(new Error(`email notice to an owner failed: ${error}`));
  }
}
