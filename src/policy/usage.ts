import { ALL_CLIENTS, type ClientVisibility, reaches } from '../access/visibility.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { NotFoundError } from '../lib/errors.js';
import type { UsageGranularity } from '../schemas/enums.js';
import { USAGE_DAYS, USAGE_HOURS } from '../schemas/limits.js';
import { addUsageCounts, type UsageCount, usageRows, usageSubject } from './store.js';
import { DAY_MS, dayStart, HOUR_MS, hourStart } from './windows.js';

/**
 * Usage per client: tokens issued and requests refused, per UTC hour. Counted in memory on
 * the token path (a Map increment), and added to the table client_usage about once a
 * minute per instance, one row per client and hour, in batched statements.
 */

/** Counts are written this often. */
export const USAGE_FLUSH_MS = 60_000;
/**
 * Bound on memory: at most this many (client, hour) counts wait to be written. Only a long
 * database outage with very many clients reaches it; beyond it, counts of a client and
 * hour not yet held are dropped, and each drop is counted (portier_usage_counts_dropped_total)
 * and logged, never lost silently.
 */
export const MAX_PENDING_COUNTS = 100_000;
/** Rows per statement: well below PostgreSQL's limit of query parameters. */
const ROWS_PER_STATEMENT = 500;

type Count = UsageCount;

export interface UsageHooks {
  onFlushError(error: unknown): void;
  /** Counts dropped because MAX_PENDING_COUNTS were already waiting. */
  onDropped(): void;
}

export class UsageCounters {
  /** The current hour's counts, by client_id. */
  private current = new Map<string, Count>();
  private currentHour = Number.NEGATIVE_INFINITY;
  /** Counts of earlier hours not yet written (an hour ended, or a flush failed). */
  private earlier: Count[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly hooks: UsageHooks,
    private readonly maxPending = MAX_PENDING_COUNTS,
  ) {}

  /** A token issued to the client. */
  issued(clientId: string, now: number): void {
    const count = this.countOf(clientId, now);
    if (count !== undefined) count.tokens += 1;
  }

  /** A request naming the client refused (for any reason). */
  refused(clientId: string, now: number): void {
    const count = this.countOf(clientId, now);
    if (count !== undefined) count.refusals += 1;
  }

  /** How many (client, hour) counts wait to be written. */
  get pending(): number {
    return this.current.size + this.earlier.length;
  }

  private countOf(clientId: string, now: number): Count | undefined {
    if (now - this.currentHour >= HOUR_MS || now < this.currentHour) {
      const hour = hourStart(now);
      if (hour !== this.currentHour) {
        this.earlier.push(...this.current.values());
        this.current = new Map();
        this.currentHour = hour;
      }
    }
    let count = this.current.get(clientId);
    if (count === undefined) {
      if (this.pending >= this.maxPending) {
        this.hooks.onDropped();
        return undefined;
      }
      count = { clientId, hourStart: this.currentHour, tokens: 0, refusals: 0 };
      this.current.set(clientId, count);
    }
    return count;
  }

  start(intervalMs = USAGE_FLUSH_MS): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.hooks.onFlushError);
    }, intervalMs).unref();
  }

  /** Stops the timer and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Writes every count held (rows past the longest window are pruned with the other tables'
   * expired rows, see db/retention.ts).
   * Flushes run one at a time. A count that could not be written (the database down) is
   * kept, added to what arrives meanwhile, and written by a later flush.
   */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.write());
    this.flushing = run.catch(() => {});
    return run;
  }

  private async write(): Promise<void> {
    const batch = [...this.earlier, ...this.current.values()];
    this.earlier = [];
    this.current = new Map();
    for (let i = 0; i < batch.length; i += ROWS_PER_STATEMENT) {
      try {
        await this.upsert(batch.slice(i, i + ROWS_PER_STATEMENT));
      } catch (error) {
        this.keep(batch.slice(i));
        throw error;
      }
    }
  }

  /** Puts counts that were not written back, merged with those counted meanwhile. */
  private keep(counts: Count[]): void {
    for (const count of counts) {
      const same = count.hourStart === this.currentHour ? this.current.get(count.clientId) : undefined;
      if (same !== undefined) {
        same.tokens += count.tokens;
        same.refusals += count.refusals;
      } else if (count.hourStart === this.currentHour) {
        this.current.set(count.clientId, count);
      } else {
        this.earlier.push(count);
      }
    }
  }

  /**
   * Adds counts to client_usage, one row per client and hour. The client is found by its
   * client_id; counts of a client deleted meanwhile have no row to go to and are dropped.
   */
  private upsert(counts: Count[]): Promise<void> {
    return addUsageCounts(this.db, counts);
  }
}

export interface UsageBucket {
  start: string;
  tokens: number;
  refusals: number;
}

/**
 * A client's usage as the admin API shows it: every bucket of the last 48 hours or 90 days,
 * oldest first, the current (partial) one last, with zeros where nothing happened. What
 * instances have counted but not yet written (up to a minute) is not in it.
 */
export async function readUsage(
  db: DbOrTx,
  clientId: string,
  granularity: UsageGranularity,
  now: number,
  visibility: ClientVisibility = ALL_CLIENTS,
): Promise<{ granularity: UsageGranularity; buckets: UsageBucket[] }> {
  const client = await usageSubject(db, clientId);
  // Another owner's client is answered as one that does not exist (see access/visibility.ts).
  if (client === undefined || !reaches(visibility, client.owner)) throw new NotFoundError(`no client with client_id "${clientId}"`);
  const size = granularity === 'hour' ? HOUR_MS : DAY_MS;
  const count = granularity === 'hour' ? USAGE_HOURS : USAGE_DAYS;
  const last = granularity === 'hour' ? hourStart(now) : dayStart(now);
  const first = last - (count - 1) * size;
  const rows = await usageRows(db, client.id, new Date(first));
  const buckets = Array.from({ length: count }, (_, i) => ({ start: first + i * size, tokens: 0, refusals: 0 }));
  for (const row of rows) {
    const bucket = buckets[Math.floor((row.hourStart.getTime() - first) / size)];
    if (bucket === undefined) continue;
    bucket.tokens += Number(row.tokens);
    bucket.refusals += Number(row.refusals);
  }
  return {
    granularity,
    buckets: buckets.map((bucket) => ({ start: new Date(bucket.start).toISOString(), tokens: bucket.tokens, refusals: bucket.refusals })),
  };
}
