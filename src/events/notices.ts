import { and, eq, gt, isNotNull, lte, ne, sql } from 'drizzle-orm';
import { recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import { setClientEnabled } from '../clients/lifecycle.js';
import type { Db } from '../db/connect.js';
import { clients } from '../db/schema.js';
import { emailDeliveries, noticesGiven } from '../db/schema-events.js';

/**
 * Notices: events that say something is about to happen or has stopped happening, rather
 * than that someone changed something. Checked at start, then hourly on every instance,
 * and at once by `portier notices`:
 * - `credential.expiring`: a client's `expires_at` is one of CREDENTIAL_EXPIRY_NOTICE_DAYS
 *   away (once per client, expiry date and notice day; only the nearest day due, so a
 *   client made a day before its expiry gets its 1-day notice, not the 30-day one too);
 * - `credential.expired`: once per client and expiry date;
 * - `client.dormant`: unused for DORMANT_CLIENT_DAYS, once until it is used again; with
 *   DORMANT_CLIENT_ACTION=disable it is also disabled (audited as any disable).
 * Each notice is an audit event (so an event, delivered to webhooks), written together
 * with its row in notices_given (whose key makes it once, however many instances check at
 * the same moment) and, where the owner is an email address and SMTP_URL is set, an email
 * to send (events/mail.ts). Nothing here is on the token path.
 */

const DAY_MS = 24 * 3600_000;

export interface NoticeSettings {
  /** CREDENTIAL_EXPIRY_NOTICE_DAYS, largest first. */
  expiryNoticeDays: readonly number[];
  /** DORMANT_CLIENT_DAYS; 0: none. */
  dormantClientDays: number;
  dormantClientAction: 'notify' | 'disable';
  /** Where the console is (`<ISSUER>/console`), for the links in notices. */
  consoleUrl: string;
  /** SMTP_URL is set: owners that are email addresses are written to. */
  email: boolean;
}

/** How many notices a run gave, by kind. */
export interface NoticeReport {
  expiring: number;
  expired: number;
  dormant: number;
  disabled: number;
}

/** An owner that is an email address (as people's sign-in sets it), or undefined. */
export function ownerEmail(owner: string): string | undefined {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(owner) ? owner : undefined;
}

/**
 * The notice day due for something expiring at `expiresAt`: the nearest of `days` that is
 * at least as far as the time left, or undefined when none is (further than the largest).
 */
export function noticeDayDue(expiresAt: number, now: number, days: readonly number[]): number | undefined {
  const left = expiresAt - now;
  const due = days.filter((day) => left <= day * DAY_MS);
  return due.length === 0 ? undefined : Math.min(...due);
}

type ClientRow = Pick<typeof clients.$inferSelect, 'id' | 'clientId' | 'name' | 'owner'>;

/**
 * Gives one notice: once for `key`. In one transaction: the key, the audit event (and so
 * the event and its webhook deliveries), and the email to the owner. Returns whether it
 * was given now (false: it had been before).
 */
async function give(
  db: Db,
  key: string,
  action: 'credential.expiring' | 'credential.expired' | 'client.dormant',
  client: ClientRow,
  details: Record<string, unknown>,
  settings: NoticeSettings,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [given] = await tx.insert(noticesGiven).values({ key }).onConflictDoNothing().returning({ key: noticesGiven.key });
    if (given === undefined) return false;
    const auditEventId = await recordChange(tx, {
      action,
      actor: SYSTEM_ACTOR,
      clientId: client.clientId,
      details: {
        ...details,
        name: client.name,
        owner: client.owner,
        console_url: `${settings.consoleUrl}/clients/${encodeURIComponent(client.clientId)}`,
      },
    });
    const recipient = ownerEmail(client.owner);
    if (settings.email && recipient !== undefined) await tx.insert(emailDeliveries).values({ auditEventId, recipient });
    return true;
  });
}

const clientColumns = { id: clients.id, clientId: clients.clientId, name: clients.name, owner: clients.owner };

async function expiryNotices(db: Db, settings: NoticeSettings, now: number, report: NoticeReport): Promise<void> {
  const largest = settings.expiryNoticeDays[0];
  if (largest !== undefined) {
    const soon = await db
      .select({ ...clientColumns, expiresAt: clients.expiresAt })
      .from(clients)
      .where(
        and(eq(clients.enabled, true), gt(clients.expiresAt, new Date(now)), lte(clients.expiresAt, new Date(now + largest * DAY_MS))),
      );
    for (const client of soon) {
      const expiresAt = client.expiresAt as Date;
      const day = noticeDayDue(expiresAt.getTime(), now, settings.expiryNoticeDays);
      if (day === undefined) continue;
      const key = `credential.expiring:${client.id}:${expiresAt.toISOString()}:${day}`;
      const details = { credential: 'client', expires_at: expiresAt.toISOString(), days: day };
      if (await give(db, key, 'credential.expiring', client, details, settings)) report.expiring += 1;
    }
  }
  const expired = await db
    .select({ ...clientColumns, expiresAt: clients.expiresAt })
    .from(clients)
    .where(and(isNotNull(clients.expiresAt), lte(clients.expiresAt, new Date(now))));
  for (const client of expired) {
    const expiresAt = client.expiresAt as Date;
    const key = `credential.expired:${client.id}:${expiresAt.toISOString()}`;
    if (await give(db, key, 'credential.expired', client, { credential: 'client', expires_at: expiresAt.toISOString() }, settings)) {
      report.expired += 1;
    }
  }
}

async function dormancyNotices(db: Db, settings: NoticeSettings, now: number, report: NoticeReport): Promise<void> {
  if (settings.dormantClientDays === 0) return;
  const lastUse = sql<Date>`coalesce(${clients.lastUsedAt}, ${clients.createdAt})`;
  const dormant = await db
    .select({ ...clientColumns, lastUsedAt: clients.lastUsedAt, createdAt: clients.createdAt })
    .from(clients)
    .where(
      and(
        eq(clients.enabled, true),
        lte(lastUse, new Date(now - settings.dormantClientDays * DAY_MS)),
        // The bootstrap admin is the way back in: never disabled for want of use.
        ne(clients.owner, 'bootstrap'),
      ),
    );
  for (const client of dormant) {
    const since = (client.lastUsedAt ?? client.createdAt).toISOString();
    const key = `client.dormant:${client.id}:${since}`;
    const details = {
      last_used_at: client.lastUsedAt?.toISOString() ?? null,
      days: settings.dormantClientDays,
      action: settings.dormantClientAction,
    };
    if (!(await give(db, key, 'client.dormant', client, details, settings))) continue;
    report.dormant += 1;
    if (settings.dormantClientAction === 'disable') {
      await setClientEnabled(db, client.clientId, false, SYSTEM_ACTOR, now);
      report.disabled += 1;
    }
  }
}

/** Gives every notice due at `now` that has not been given; what it gave, by kind. */
export async function giveNotices(db: Db, settings: NoticeSettings, now: number): Promise<NoticeReport> {
  const report: NoticeReport = { expiring: 0, expired: 0, dormant: 0, disabled: 0 };
  await expiryNotices(db, settings, now, report);
  await dormancyNotices(db, settings, now, report);
  return report;
}

/** How often each instance checks. */
export const NOTICE_INTERVAL_MS = 3600_000;
const NOTICE_RETRY_MS = 60_000;

/**
 * Runs giveNotices at start and then hourly, on the app's clock; a failed run (the
 * database down) is reported and tried again a minute later.
 */
export class NoticeJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly settings: NoticeSettings,
    private readonly clock: () => number,
    private readonly events: { onGiven(report: NoticeReport): void; onError(error: unknown): void },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  /** A run now (as `portier notices` does): what it gave. */
  run(): Promise<NoticeReport> {
    const run = giveNotices(this.db, this.settings, this.clock());
    this.running = run.catch(() => undefined);
    return run;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.run().then(
        (report) => {
          if (report.expiring + report.expired + report.dormant > 0) this.events.onGiven(report);
          this.schedule(NOTICE_INTERVAL_MS);
        },
        (error: unknown) => {
          this.events.onError(error);
          this.schedule(NOTICE_RETRY_MS);
        },
      );
    }, ms).unref();
  }
}
