import { getTableName, sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { USAGE_DAYS } from '../schemas/limits.js';
import type { Database } from './connect.js';
import { auditEvents, cacheChanges, clientCredentials, consoleSessions, quotaCounts, revokedTokens, usedJwtIds } from './schema.js';
import { clientUsage } from './schema-usage.js';

/**
 * Retention: rows that have served their purpose are deleted, so that no table grows
 * without end. Each table that grows has one rule below: the column whose value, once it
 * is before the rule's cutoff, lets the row go. A new table that grows is one more line.
 *
 * The pruning runs at start and then hourly on every instance (RetentionJob), and on
 * demand with `portier prune`. It deletes in batches of at most BATCH_SIZE rows, each a
 * short transaction of its own that holds the `retention` advisory lock (transaction-scoped,
 * so it works behind a pooler): one instance at a time prunes, no transaction holds many
 * row locks, and the token endpoint never waits behind a long delete. After each batch it
 * rests as long as the batch took, so that a large backlog (the first run after an upgrade,
 * a million rows) takes at most half of the database's attention while tokens are issued:
 * measured on 2 cores, a prune of 1 M rows at full speed doubled the token p99.
 */

const DAY_MS = 24 * 3600 * 1000;

/** What the cutoffs are computed from: the moment of the run and AUDIT_RETENTION_DAYS. */
export interface RetentionSettings {
  now: number;
  /** 0 keeps every audit event. */
  auditRetentionDays: number;
}

export interface RetentionRule {
  table: PgTable;
  /** A row whose value here is before the cutoff is deleted. */
  column: PgColumn;
  /** The cutoff of a run, or undefined to keep every row. */
  cutoff(settings: RetentionSettings): Date | undefined;
}

/** How long an expired or revoked credential is still listed (and refused at a wrong secret's cost). */
export const CREDENTIAL_KEPT_DAYS = 30;

/** Rows past the moment of the run. */
const expired = ({ now }: RetentionSettings) => new Date(now);

export const RETENTION_RULES: readonly RetentionRule[] = [
  {
    table: auditEvents,
    column: auditEvents.at,
    cutoff: ({ now, auditRetentionDays }) => (auditRetentionDays === 0 ? undefined : new Date(now - auditRetentionDays * DAY_MS)),
  },
  // A revocation is of no use once the token it revokes has expired.
  { table: revokedTokens, column: revokedTokens.expiresAt, cutoff: expired },
  // A used jwt id refuses replays of a JWT only until that JWT expires.
  { table: usedJwtIds, column: usedJwtIds.expiresAt, cutoff: expired },
  // A credential expired or revoked a month ago: listed as such until then (see clients/credentials.ts).
  { table: clientCredentials, column: clientCredentials.expiresAt, cutoff: ({ now }) => new Date(now - CREDENTIAL_KEPT_DAYS * DAY_MS) },
  { table: clientCredentials, column: clientCredentials.revokedAt, cutoff: ({ now }) => new Date(now - CREDENTIAL_KEPT_DAYS * DAY_MS) },
  // A person's console session past its absolute limit (an idle one goes at the next sign-in
  // of anyone, and is refused before that: see people/sessions.ts).
  { table: consoleSessions, column: consoleSessions.expiresAt, cutoff: expired },
  // Usage counts beyond the longest window shown, and a day more (policy/usage.ts).
  { table: clientUsage, column: clientUsage.hourStart, cutoff: ({ now }) => new Date(now - (USAGE_DAYS + 1) * DAY_MS) },
  // Quota counts: the longest quota window is the UTC day, read back as its hours (policy/quota.ts).
  { table: quotaCounts, column: quotaCounts.hourStart, cutoff: ({ now }) => new Date(now - 2 * DAY_MS) },
  // What a change made stale is read by every instance within a poll; one cut off longer
  // than OUTAGE_GRACE_MS drops its caches whole, and one that finds entries gone does too.
  { table: cacheChanges, column: cacheChanges.changedAt, cutoff: ({ now }) => new Date(now - DAY_MS) },
];

/** The most rows one transaction deletes. */
export const BATCH_SIZE = 10_000;

/** Rows deleted per table by one run; tables with nothing to delete are left out. */
export type PruneReport = Record<string, number>;

/**
 * Deletes one batch of at most `limit` rows of `rule`'s table, under the retention lock.
 * Returns how many went, or undefined when another transaction holds the lock (another
 * instance is pruning). By `ctid`, so that a rule needs no knowledge of the table's key.
 */
async function pruneBatch(database: Database, rule: RetentionRule, cutoff: Date, limit: number): Promise<number | undefined> {
  const outcome = await database.tryExclusive('retention', async (tx) => {
    const result = (await tx.execute(sql`
      WITH gone AS (
        DELETE FROM ${rule.table} WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM ${rule.table} WHERE ${rule.column} < ${cutoff.toISOString()}::timestamptz LIMIT ${limit}
        ))
        RETURNING 1
      )
      SELECT count(*)::int AS deleted FROM gone`)) as unknown as { rows: Array<{ deleted: number }> };
    return result.rows[0]?.deleted ?? 0;
  });
  return outcome?.value;
}

/**
 * Prunes every rule's table, batch after batch, until nothing is left to delete or
 * `shouldStop` says so (the process is shutting down). Stops early, with what it did so
 * far, when another instance holds the lock: that instance does the rest. A database
 * error is thrown as it is.
 */
export async function pruneExpired(
  database: Database,
  settings: RetentionSettings,
  options: { batchSize?: number; shouldStop?: () => boolean } = {},
): Promise<PruneReport> {
  const batchSize = options.batchSize ?? BATCH_SIZE;
  const report: PruneReport = {};
  for (const rule of RETENTION_RULES) {
    const cutoff = rule.cutoff(settings);
    if (cutoff === undefined) continue;
    const table = getTableName(rule.table);
    for (;;) {
      if (options.shouldStop?.() === true) return report;
      const started = performance.now();
      const deleted = await pruneBatch(database, rule, cutoff, batchSize);
      if (deleted === undefined) return report;
      if (deleted > 0) report[table] = (report[table] ?? 0) + deleted;
      if (deleted < batchSize) break;
      // Rest as long as the batch took (see above); at least until whatever waits for the
      // database (on PGlite, for this process's one connection) has had its turn.
      await new Promise((resolve) => setTimeout(resolve, performance.now() - started));
    }
  }
  return report;
}

/** How often each instance prunes. */
export const RETENTION_INTERVAL_MS = 3600 * 1000;
/** After a failed run (the database unreachable), how soon the next try comes. */
export const RETENTION_RETRY_MS = 60 * 1000;

/** How RetentionJob waits: real timers in production; tests run the waits themselves. */
export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Runs pruneExpired at start and then every RETENTION_INTERVAL_MS. A failed run (the
 * database down) is reported to `onError` and tried again after RETENTION_RETRY_MS; it
 * never throws out of the timer, so an outage cannot crash the process.
 */
export class RetentionJob {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly database: Database,
    private readonly settings: () => RetentionSettings,
    private readonly events: { onPruned(report: PruneReport, milliseconds: number): void; onError(error: unknown): void },
    private readonly timers: Timers = realTimers,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops the timer, and waits for a run under way to end its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
    }, ms);
  }

  private async run(): Promise<void> {
    // How long a run takes is worth a log line (a first run on a large table takes a while);
    // a duration, so the monotonic clock rather than the app's.
    const started = performance.now();
    try {
      const report = await pruneExpired(this.database, this.settings(), { shouldStop: () => this.stopped });
      if (Object.keys(report).length > 0) this.events.onPruned(report, Math.round(performance.now() - started));
      this.schedule(RETENTION_INTERVAL_MS);
    } catch (error) {
      this.events.onError(error);
      this.schedule(RETENTION_RETRY_MS);
    }
  }
}
