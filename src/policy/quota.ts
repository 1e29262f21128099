import { insertAuditEventOnce } from '../audit/store.js';
import type { TokenQuotaDefaults } from '../config.js';
import type { Db } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import type { QuotaMode } from '../schemas/enums.js';
import { addQuotaCounts, readQuotaCounts } from './store.js';
import { DAY_MS, dayStart, HOUR_MS, hourStart } from './windows.js';

/**
 * Per-client token quotas: at most `perHour` tokens in a UTC hour and `perDay` in a UTC
 * day, counted across every instance on the database.
 *
 * How the count is shared, without a database write per token: each instance counts the
 * tokens it issues in memory and adds them to the shared count (table quota_counts, a row
 * per client and hour) in one statement for all clients, at least once a second, and
 * before it issues more than one batch of tokens to a client unwritten; that statement
 * also reads back what the other instances added. A batch is 1 % of the client's smallest
 * limit, at least 1 and at most 100 tokens, so what a client's count costs is bounded by
 * its quota, not by its traffic: about 100 writes (at most 200) per window and instance,
 * plus one a second while it is asked for tokens; a refusal writes nothing, and a client
 * without a quota costs nothing at all.
 *
 * The overshoot this allows is bounded: an instance never issues more than one batch on a
 * count it has not refreshed, so a client gets at most its quota plus one batch per
 * instance in a window (in practice less: the others' counts are at most a second old).
 * With the database unreachable, each instance goes on with its own count, and writes it
 * once the database is back.
 */

/** A quota in force: null limits mean none for that window. */
export interface TokenQuota {
  perHour: number | null;
  perDay: number | null;
  mode: QuotaMode;
}

/** The quota as the admin API and the database hold it. */
export interface StoredQuota {
  per_hour: number | null;
  per_day: number | null;
  mode: QuotaMode;
}

/** A quota as given to the admin API (members may be left out) as it is stored: limits left out are none, the mode `enforce`. */
export function toStoredQuota(input: { per_hour?: number | null; per_day?: number | null; mode?: QuotaMode } | null): StoredQuota | null {
  return input === null ? null : { per_hour: input.per_hour ?? null, per_day: input.per_day ?? null, mode: input.mode ?? 'enforce' };
}

export function fromStoredQuota(stored: StoredQuota | null): TokenQuota | null {
  return stored === null ? null : { perHour: stored.per_hour, perDay: stored.per_day, mode: stored.mode };
}

/** What the quota check needs to know of a client. */
export interface QuotaSubject {
  uuid: string;
  clientId: string;
  /** The client's own quota; null: the defaults. */
  tokenQuota: TokenQuota | null;
}

/** Counts are written at least this often, and other instances' counts read back. */
export const QUOTA_SYNC_MS = 1000;
/**
 * The most tokens an instance issues to one client before it writes and rereads the
 * count: 1 % of its smallest limit, at least 1. The overshoot is so at most 1 % of the
 * limit per instance, and a client far below a large limit is synced by time alone (once a
 * second, in the background) rather than every few dozen tokens, each of which would make
 * its requests wait for the database.
 */
export function quotaBatch(quota: TokenQuota): number {
  const limits = [quota.perHour, quota.perDay].filter((limit): limit is number => limit !== null);
  return Math.max(1, Math.floor(Math.min(...limits) / 100));
}

export type QuotaWindow = 'hour' | 'day';

/** A window's standing after this token: for the RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers). */
export interface QuotaStanding {
  limit: number;
  remaining: number;
  /** Seconds until the window ends. */
  resetSeconds: number;
  /** `RateLimit-Policy`: every limit in force, e.g. `1000;w=3600, 20000;w=86400`. */
  policy: string;
}

export type QuotaDecision =
  /** Issue the token. `exceeded`: it is beyond the quota, issued because the mode is `log`. */
  | { admitted: true; standing: QuotaStanding; exceeded: QuotaWindow | undefined; release(): void }
  /** Enforced: refuse, until the (later) window that is full ends. */
  | { admitted: false; window: QuotaWindow; retryAfterMs: number };

/** One client's count on this instance. */
interface QuotaState {
  hourStart: number;
  dayStart: number;
  /** Tokens issued in the hour / day, everywhere, as far as this instance knows. */
  hourCount: number;
  dayCount: number;
  /** Issued here and not yet written (negative after a release). */
  unwritten: number;
  /** The counts were read from the database in this hour. */
  synced: boolean;
  /** Asked about since the last sync: its count is read back at the next one. */
  touched: boolean;
}

/** An unwritten count of an hour that has ended, written with the next sync. */
interface Leftover {
  uuid: string;
  hourStart: number;
  tokens: number;
}

/** Metrics and logging, from the wiring. */
export interface QuotaHooks {
  onSyncError(error: unknown): void;
  onExceeded(mode: QuotaMode): void;
}

export class QuotaTracker {
  private readonly states = new Map<string, QuotaState>();
  private leftovers: Leftover[] = [];
  private syncing: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /**
   * The last sync failed (the database unreachable): requests do not wait for the database
   * until the background sync, tried every second, succeeds again.
   */
  private failing = false;
  /** The log-mode events this instance has written (or is writing), by client, window and start. */
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly defaults: TokenQuota | null;

  constructor(
    private readonly db: Db,
    defaults: TokenQuotaDefaults,
    private readonly clock: Clock,
    private readonly hooks: QuotaHooks,
  ) {
    this.defaults =
      defaults.perHour === undefined && defaults.perDay === undefined
        ? null
        : { perHour: defaults.perHour ?? null, perDay: defaults.perDay ?? null, mode: defaults.mode };
  }

  /** The quota in force for a client, or undefined: none (then there is nothing to count). */
  quotaOf(client: QuotaSubject): TokenQuota | undefined {
    const quota = client.tokenQuota ?? this.defaults;
    return quota === null || (quota.perHour === null && quota.perDay === null) ? undefined : quota;
  }

  /**
   * May `client` have one more token now? Counts it when so (give it back with release()
   * if the token is not issued after all). Waits for the database only when this instance
   * has not read the client's count in this hour, or has issued a whole batch unwritten.
   */
  async admit(client: QuotaSubject, quota: TokenQuota, now: number): Promise<QuotaDecision> {
    const batch = quotaBatch(quota);
    let state = this.stateOf(client.uuid, now);
    // A loop, not an if: requests that waited for the same sync go on one by one, and once
    // they have issued a batch between them, the rest wait for the next one.
    while ((!state.synced || state.unwritten >= batch) && !this.failing) {
      await this.sync();
      state = this.stateOf(client.uuid, now);
    }
    state.touched = true;
    const hourFull = quota.perHour !== null && state.hourCount >= quota.perHour;
    const dayFull = quota.perDay !== null && state.dayCount >= quota.perDay;
    const full: QuotaWindow | undefined = dayFull ? 'day' : hourFull ? 'hour' : undefined;
    if (full !== undefined && quota.mode === 'enforce') {
      this.hooks.onExceeded('enforce');
      const ends = full === 'day' ? state.dayStart + DAY_MS : state.hourStart + HOUR_MS;
      return { admitted: false, window: full, retryAfterMs: ends - now };
    }
    if (full !== undefined) {
      this.hooks.onExceeded('log');
      this.report(client, full, full === 'day' ? state.dayStart : state.hourStart, full === 'day' ? quota.perDay : quota.perHour);
    }
    state.hourCount += 1;
    state.dayCount += 1;
    state.unwritten += 1;
    const counted = state;
    return {
      admitted: true,
      exceeded: full,
      standing: standing(quota, state, now),
      release: () => this.release(client.uuid, counted),
    };
  }

  /** Starts the background sync (every QUOTA_SYNC_MS, when there is something to do). */
  start(): void {
    this.timer = setInterval(() => {
      if (this.leftovers.length > 0 || [...this.states.values()].some((state) => state.touched || state.unwritten !== 0)) {
        void this.sync();
      }
    }, QUOTA_SYNC_MS).unref();
  }

  /** Stops the timer and writes what is unwritten. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.sync();
  }

  /**
   * Writes every unwritten count and reads back the counts of the clients asked about since
   * the last sync. One runs at a time; a call while one runs gets the next one (its own
   * counts may have come after the running one took its snapshot). Never rejects: a
   * failure keeps the counts for the next sync and is reported to onSyncError.
   */
  sync(): Promise<void> {
    if (this.syncing === undefined) {
      this.syncing = this.runSync().finally(() => {
        this.syncing = undefined;
      });
      return this.syncing;
    }
    this.queued ??= this.syncing.then(() => {
      this.queued = undefined;
      return this.sync();
    });
    return this.queued;
  }

  private async runSync(): Promise<void> {
    const now = this.clock();
    const hour = hourStart(now);
    const day = dayStart(now);
    const taken = new Map<string, number>();
    const reads: string[] = [];
    for (const [uuid, state] of this.states) {
      // Not asked about since its hour ended, nothing unwritten: forgotten (read afresh if asked again).
      if (!state.touched && state.unwritten === 0 && state.hourStart < hour) {
        this.states.delete(uuid);
        continue;
      }
      this.roll(uuid, state, now);
      if (state.unwritten !== 0) {
        taken.set(uuid, state.unwritten);
        state.unwritten = 0;
      }
      if (state.touched || !state.synced) reads.push(uuid);
    }
    const carried = this.leftovers;
    this.leftovers = [];
    const writes = [...carried, ...[...taken].map(([uuid, tokens]) => ({ uuid, hourStart: hour, tokens }))];
    try {
      await addQuotaCounts(this.db, writes);
    } catch (error) {
      // Nothing was written: every count goes back where it came from.
      this.leftovers.push(...carried);
      for (const [uuid, tokens] of taken) {
        const state = this.states.get(uuid);
        if (state !== undefined && state.hourStart === hour) state.unwritten += tokens;
        else this.leftovers.push({ uuid, hourStart: hour, tokens });
      }
      this.failed(error);
      return;
    }
    try {
      if (reads.length > 0) this.apply(reads, await readQuotaCounts(this.db, reads, hour, day), hour);
      this.failing = false;
    } catch (error) {
      this.failed(error);
    }
  }

  /** Every instance's counts, read back, plus what this instance has issued since. */
  private apply(reads: string[], counts: Map<string, { hour: number; day: number }>, hour: number): void {
    for (const uuid of reads) {
      const state = this.states.get(uuid);
      // Rolled into a new hour meanwhile: its counts are read at the next sync.
      if (state === undefined || state.hourStart !== hour) continue;
      const count = counts.get(uuid) ?? { hour: 0, day: 0 };
      state.hourCount = count.hour + state.unwritten;
      state.dayCount = count.day + state.unwritten;
      state.synced = true;
      state.touched = false;
    }
  }

  private failed(error: unknown): void {
    this.failing = true;
    this.hooks.onSyncError(error);
  }

  private stateOf(uuid: string, now: number): QuotaState {
    let state = this.states.get(uuid);
    if (state === undefined) {
      state = {
        hourStart: hourStart(now),
        dayStart: dayStart(now),
        hourCount: 0,
        dayCount: 0,
        unwritten: 0,
        synced: false,
        touched: true,
      };
      this.states.set(uuid, state);
    } else {
      this.roll(uuid, state, now);
    }
    return state;
  }

  /** Moves a client's count into the hour (and day) of `now`; what the old hour left unwritten is kept for the next sync. */
  private roll(uuid: string, state: QuotaState, now: number): void {
    const hour = hourStart(now);
    if (state.hourStart >= hour) return;
    if (state.unwritten !== 0) this.leftovers.push({ uuid, hourStart: state.hourStart, tokens: state.unwritten });
    state.unwritten = 0;
    state.hourStart = hour;
    state.hourCount = 0;
    state.synced = false;
    const day = dayStart(now);
    if (state.dayStart < day) {
      state.dayStart = day;
      state.dayCount = 0;
    }
  }

  private release(uuid: string, counted: QuotaState): void {
    const state = this.states.get(uuid);
    if (state === counted && state.hourStart === counted.hourStart) {
      state.hourCount -= 1;
      state.dayCount -= 1;
      state.unwritten -= 1;
    } else {
      this.leftovers.push({ uuid, hourStart: counted.hourStart, tokens: -1 });
    }
  }

  /**
   * The audit event of a client over its quota in `log` mode: one per client and window,
   * across instances (a unique index makes the second insert do nothing). Not awaited: the
   * token does not wait for the audit trail; a failed write is tried again by the next
   * token over the quota.
   */
  private report(client: QuotaSubject, window: QuotaWindow, start: number, limit: number | null): void {
    const windowStart = new Date(start).toISOString();
    const key = `${client.uuid} ${window} ${windowStart}`;
    if (this.reported.has(key)) return;
    if (this.reported.size >= 10_000) this.reported.clear();
    this.reported.add(key);
    insertAuditEventOnce(this.db, {
      action: 'client.quota_exceeded',
      actorClientId: client.clientId,
      clientId: client.clientId,
      details: { window, window_start: windowStart, limit, mode: 'log' },
    }).catch((error: unknown) => {
      this.reported.delete(key);
      this.hooks.onSyncError(error);
    });
  }
}

/** The RateLimit-* values after this token: the window with the fewest tokens left. */
function standing(quota: TokenQuota, state: QuotaState, now: number): QuotaStanding {
  const windows: Array<{ limit: number; count: number; ends: number; seconds: number }> = [];
  if (quota.perHour !== null)
    windows.push({ limit: quota.perHour, count: state.hourCount, ends: state.hourStart + HOUR_MS, seconds: 3600 });
  if (quota.perDay !== null) windows.push({ limit: quota.perDay, count: state.dayCount, ends: state.dayStart + DAY_MS, seconds: 86_400 });
  let tightest = windows[0];
  for (const window of windows) {
    if (tightest === undefined || window.limit - window.count < tightest.limit - tightest.count) tightest = window;
  }
  const chosen = tightest ?? { limit: 0, count: 0, ends: now, seconds: 0 };
  return {
    limit: chosen.limit,
    remaining: Math.max(0, chosen.limit - chosen.count),
    resetSeconds: Math.max(1, Math.ceil((chosen.ends - now) / 1000)),
    policy: windows.map((window) => `${window.limit};w=${window.seconds}`).join(', '),
  };
}
