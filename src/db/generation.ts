import { and, eq, gt, lte, sql } from 'drizzle-orm';
import { systemClock } from '../lib/clock.js';
import type { Db, DbOrTx } from './connect.js';
import { cacheChanges, cacheGeneration } from './schema.js';

/**
 * What a change makes stale in the instances' caches: one kind of object (`topic`), and
 * which one (`key`: a client_id, a service id), or every object of the kind (no key).
 */
export interface StaleEntry {
  topic: CacheTopic;
  key?: string | undefined;
}

/** The kinds of cached state a change can touch. */
export type CacheTopic = 'clients' | 'services' | 'keys' | 'trusted_issuers' | 'sessions' | 'revocations';

/**
 * Cross-instance cache invalidation. Every change that affects cached state moves one
 * counter in the same transaction as the change, and writes what it made stale under the
 * counter's new value (cache_changes). Every instance polls the counter; when it moves,
 * the instance reads what changed since its last poll and drops just that. Polling a
 * one-row table is cheap, needs nothing but PostgreSQL, and cannot miss a change the way a
 * dropped LISTEN connection can.
 *
 * Concurrent changes take turns on the counter's row lock, so values are handed out in
 * commit order and a poll never sees a value whose entries are not yet committed.
 */
export async function bumpGeneration(tx: DbOrTx, stale: readonly StaleEntry[]): Promise<void> {
  const [row] = await tx
    .update(cacheGeneration)
    .set({ generation: sql`${cacheGeneration.generation} + 1` })
    .where(eq(cacheGeneration.id, 1))
    .returning({ generation: cacheGeneration.generation });
  if (row === undefined) return;
  // A change that names nothing it made stale makes everything stale.
  const entries: ReadonlyArray<{ topic: CacheTopic | 'all'; key?: string | undefined }> = stale.length > 0 ? stale : [{ topic: 'all' }];
  await tx
    .insert(cacheChanges)
    .values(entries.map((entry) => ({ generation: row.generation, topic: entry.topic, key: entry.key ?? null })));
}

export async function ensureGenerationRow(db: DbOrTx): Promise<void> {
  await db.insert(cacheGeneration).values({ id: 1, generation: 0 }).onConflictDoNothing();
}

export async function readGeneration(db: Db): Promise<number> {
  const [row] = await db.select({ generation: cacheGeneration.generation }).from(cacheGeneration).where(eq(cacheGeneration.id, 1));
  return row?.generation ?? 0;
}

/** How often each instance looks for changes made elsewhere; well inside the one-second promise. */
export const GENERATION_POLL_MS = 250;

/**
 * How long an instance that cannot reach the database goes on answering from its caches.
 * While the database is down nobody can change anything in it, so what is cached is still
 * true: clients already seen keep getting tokens, the JWKS and discovery keep answering.
 * An instance cut off from a database that others still reach could miss a change,
 * though; this bounds how long it may act on one it missed. Then it drops its caches, and
 * whatever needs the database answers 503 until it is back.
 */
export const OUTAGE_GRACE_MS = 30_000;

/**
 * How many changes an instance applies one by one; more at once (a large configuration
 * apply) and it drops its caches whole, which is cheaper than thousands of single drops.
 */
const MAX_CHANGES_APPLIED_SINGLY = 1_000;

/** What moved since an instance last looked: some objects, or everything. */
export class CacheChanges {
  static readonly everything = new CacheChanges(undefined);

  /** Per topic, the keys that changed, or null when every object of the topic did. */
  private readonly byTopic = new Map<CacheTopic, Set<string> | null>();

  constructor(entries: ReadonlyArray<{ topic: string; key: string | null }> | undefined) {
    this.all = entries === undefined || entries.some((entry) => entry.topic === 'all');
    for (const { topic, key } of entries ?? []) {
      const keys = this.byTopic.get(topic as CacheTopic);
      if (keys === null) continue;
      if (key === null) this.byTopic.set(topic as CacheTopic, null);
      else if (keys === undefined) this.byTopic.set(topic as CacheTopic, new Set([key]));
      else keys.add(key);
    }
  }

  /** Every cached object is stale (a change of unknown reach, or too many to tell apart). */
  readonly all: boolean;

  /** Whether anything of `topic` changed. */
  touches(topic: CacheTopic): boolean {
    return this.all || this.byTopic.has(topic);
  }

  /** The keys of `topic` that changed: 'all' when every object of it may have. */
  keys(topic: CacheTopic): ReadonlySet<string> | 'all' {
    if (this.all) return 'all';
    return this.byTopic.get(topic) ?? (this.byTopic.has(topic) ? 'all' : new Set());
  }
}

/**
 * Polls the generation and tells its listeners what changed when it moves. The instance
 * that made a change calls catchUp() right after the commit, so it sees the change on the
 * very next request.
 */
export class GenerationWatcher {
  private last: number | undefined;
  /** When the polls began to fail, while they do. */
  private failingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(changes: CacheChanges) => void> = [];
  /** The poll or catch-up under way: the next one waits for it, so changes are applied in order and once. */
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = GENERATION_POLL_MS,
  ) {}

  onChange(listener: (changes: CacheChanges) => void): void {
    this.listeners.push(listener);
  }

  /** Tells every listener that everything cached is stale. */
  changed(): void {
    this.notify(CacheChanges.everything);
  }

  /**
   * Reads and applies the changes committed since the last look, now. When it cannot (the
   * database just went away), everything cached is dropped: this instance made a change
   * it cannot tell the extent of.
   */
  catchUp(): Promise<void> {
    return this.read().catch((error: unknown) => {
      this.onError(error);
      this.changed();
    });
  }

  async start(): Promise<void> {
    this.last = await readGeneration(this.db);
    const tick = async () => {
      try {
        await this.read();
        this.failingSince = undefined;
      } catch (error) {
        const now = systemClock();
        this.failingSince ??= now;
        if (now - this.failingSince >= OUTAGE_GRACE_MS) this.changed();
        this.onError(error);
      }
      if (this.timer !== undefined) this.timer = setTimeout(tick, this.intervalMs).unref();
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One look at the counter, and at what changed when it moved; one at a time. */
  private read(): Promise<void> {
    const next = this.reading.catch(() => {}).then(() => this.readOnce());
    this.reading = next;
    return next;
  }

  private async readOnce(): Promise<void> {
    const current = await readGeneration(this.db);
    const last = this.last;
    if (last === undefined || current === last) {
      this.last = current;
      return;
    }
    const changes = current - last > MAX_CHANGES_APPLIED_SINGLY ? CacheChanges.everything : await this.changesBetween(last, current);
    // Only now: a read of the changes that fails leaves them to the next look.
    this.last = current;
    this.notify(changes);
  }

  /**
   * The entries written for the generations after `last` up to `current`. Every move of the
   * counter writes at least one entry; when some are missing (pruned while this instance
   * was cut off, or the counter went down: a database restored from a backup), everything
   * is stale.
   */
  private async changesBetween(last: number, current: number): Promise<CacheChanges> {
    if (current < last) return CacheChanges.everything;
    const rows = await this.db
      .select({ generation: cacheChanges.generation, topic: cacheChanges.topic, key: cacheChanges.key })
      .from(cacheChanges)
      .where(and(gt(cacheChanges.generation, last), lte(cacheChanges.generation, current)))
      .limit(MAX_CHANGES_APPLIED_SINGLY + 1);
    const generations = new Set(rows.map((row) => row.generation));
    if (rows.length > MAX_CHANGES_APPLIED_SINGLY || generations.size < current - last) return CacheChanges.everything;
    return new CacheChanges(rows);
  }

  private notify(changes: CacheChanges): void {
    for (const listener of this.listeners) listener(changes);
  }
}
