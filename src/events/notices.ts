import { and, eq, gt, isNotNull, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import { maxLifetimeDaysSql } from '../clients/credential-limits.js';
import { overPolicy } from '../clients/credentials.js';
import { setClientEnabled } from '../clients/lifecycle.js';
import type { Db } from '../db/connect.js';
import { clientCredentials, clients } from '../db/schema.js';
import { emailDeliveries, noticesGiven } from '../db/schema-events.js';

/**
 * Notices: events that say something is about to happen or has stopped happening, rather
 * than that someone changed something. Checked at start, then hourly on every instance,
 * and at once by `portier notices`:
 * - `credential.expiring`: a client's `expires_at` is one of CREDENTIAL_EXPIRY_NOTICE_DAYS
 *   away (once per client, expiry date and notice day; only the nearest day due, so a
 *   client made a day before its expiry gets its 1-day notice, not the 30-day one too);
 * - `credential.expired`: once per client and expiry date;
 * - the same two for each credential (client_credentials) with an expiry of its own: once
 *   per credential, expiry date and notice day; `credential.expired` only for a credential
 *   that expired within EXPIRED_NOTICE_WINDOW_DAYS (one that ran out long before, e.g. a
 *   secret replaced years ago and kept until retention prunes it, is stale news);
 * - `credential.over_policy`: a live credential that lives longer than the maximum
 *   lifetime now in force for its client (CREDENTIAL_MAX_LIFETIME_DAYS and its services'
 *   credential_max_lifetime_days, lowered after it was made): once per credential and
 *   limit; no email (it is for whoever sets the policy, not the owner's deadline);
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
  /** CREDENTIAL_MAX_LIFETIME_DAYS; undefined: no limit but the services'. */
  maxLifetimeDays?: number | undefined;
}

/** How many notices a run gave, by kind. */
export interface NoticeReport {
  expiring: number;
  expired: number;
  dormant: number;
  disabled: number;
  over_policy: number;
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

type NoticeAction = 'credential.expiring' | 'credential.expired' | 'credential.over_policy' | 'client.dormant';

/** The notices that are also emailed to the owner. */
const EMAILED: ReadonlySet<NoticeAction> = new Set(['credential.expiring', 'credential.expired', 'client.dormant']);

/**
 * Gives one notice: once for `key`. In one transaction: the key, the audit event (and so
 * the event and its webhook deliveries), and the email to the owner. Returns whether it
 * was given now (false: it had been before).
 */
async function give(
  db: Db,
  key: string,
  action: NoticeAction,
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
    if (settings.email && recipient !== undefined && EMAILED.has(action))
      await tx.insert(emailDeliveries).values({ auditEventId, recipient });
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

/** How far back an expired credential is still news (see the top of this file). */
export const EXPIRED_NOTICE_WINDOW_DAYS = 7;

const credentialColumns = {
  credentialId: clientCredentials.id,
  kind: clientCredentials.kind,
  description: clientCredentials.description,
  createdAt: clientCredentials.createdAt,
  expiresAt: clientCredentials.expiresAt,
  lastUsedAt: clientCredentials.lastUsedAt,
};

type CredentialNoticeRow = ClientRow & {
  credentialId: string;
} & Pick<typeof clientCredentials.$inferSelect, 'kind' | 'description' | 'createdAt' | 'expiresAt' | 'lastUsedAt'>;

/** What a credential's notice says of it: which one, its kind, description and last use. */
function credentialDetails(row: CredentialNoticeRow): Record<string, unknown> {
  return {
    credential: row.kind,
    credential_id: row.credentialId,
    description: row.description,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
  };
}

/**
 * Each credential's own expiry: `credential.expiring` on the notice days (for a live
 * credential of an enabled client, as for clients) and `credential.expired` once it has
 * passed. A removed or leaked credential gets neither: it was ended on purpose.
 */
async function credentialExpiryNotices(db: Db, settings: NoticeSettings, now: number, report: NoticeReport): Promise<void> {
  const largest = settings.expiryNoticeDays[0] ?? 0;
  const rows = await db
    .select({ ...clientColumns, enabled: clients.enabled, ...credentialColumns })
    .from(clientCredentials)
    .innerJoin(clients, eq(clients.id, clientCredentials.clientUuid))
    .where(
      and(
        isNull(clientCredentials.revokedAt),
        gt(clientCredentials.expiresAt, new Date(now - EXPIRED_NOTICE_WINDOW_DAYS * DAY_MS)),
        lte(clientCredentials.expiresAt, new Date(now + largest * DAY_MS)),
      ),
    );
  for (const row of rows) {
    const expiresAt = (row.expiresAt as Date).toISOString();
    if ((row.expiresAt as Date).getTime() <= now) {
      const key = `credential.expired:${row.credentialId}:${expiresAt}`;
      if (await give(db, key, 'credential.expired', row, { ...credentialDetails(row), expires_at: expiresAt }, settings))
        report.expired += 1;
      continue;
    }
    const day = noticeDayDue((row.expiresAt as Date).getTime(), now, settings.expiryNoticeDays);
    if (!row.enabled || day === undefined) continue;
    const key = `credential.expiring:${row.credentialId}:${expiresAt}:${day}`;
    const details = { ...credentialDetails(row), expires_at: expiresAt, days: day };
    if (await give(db, key, 'credential.expiring', row, details, settings)) report.expiring += 1;
  }
}

/**
 * `credential.over_policy`: the live credentials that live longer than the maximum
 * lifetime now in force for their client (clients/credentials.ts overPolicy decides),
 * once per credential and limit: a limit lowered again reports them again. Those already
 * reported under the limit in force are left out in the query, not tried again hourly.
 */
async function overPolicyNotices(db: Db, settings: NoticeSettings, now: number, report: NoticeReport): Promise<void> {
  const limit = maxLifetimeDaysSql(clients.id, settings);
  const key = sql`'credential.over_policy:' || ${clientCredentials.id} || ':' || ${limit}`;
  const rows = await db
    .select({ ...clientColumns, ...credentialColumns, limit })
    .from(clientCredentials)
    .innerJoin(clients, eq(clients.id, clientCredentials.clientUuid))
    .where(
      and(
        isNull(clientCredentials.revokedAt),
        or(isNull(clientCredentials.expiresAt), gt(clientCredentials.expiresAt, new Date(now))),
        sql`${limit} IS NOT NULL`,
        // The bootstrap admin's secret lives as long as BOOTSTRAP_ADMIN_CLIENT_SECRET does: set by the deployment, not a policy's business.
        ne(clients.owner, 'bootstrap'),
        sql`NOT EXISTS (SELECT 1 FROM ${noticesGiven} WHERE ${noticesGiven.key} = ${key})`,
      ),
    );
  for (const row of rows) {
    const days = Number(row.limit);
    if (!overPolicy(row, days)) continue;
    const details = {
      ...credentialDetails(row),
      created_at: row.createdAt.toISOString(),
      expires_at: row.expiresAt?.toISOString() ?? null,
      max_lifetime_days: days,
    };
    if (await give(db, `credential.over_policy:${row.credentialId}:${days}`, 'credential.over_policy', row, details, settings)) {
      report.over_policy += 1;
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
  const report: NoticeReport = { expiring: 0, expired: 0, dormant: 0, disabled: 0, over_policy: 0 };
  await expiryNotices(db, settings, now, report);
  await credentialExpiryNotices(db, settings, now, report);
  await overPolicyNotices(db, settings, now, report);
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
          if (report.expiring + report.expired + report.dormant + report.over_policy > 0) this.events.onGiven(report);
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
