import { eq, sql } from 'drizzle-orm';
import { systemClock } from '../lib/clock.js';
import type { Db, DbOrTx } from './connect.js';
import { cacheGeneration } from './schema.js';

/**
 * Cross-instance cache invalidation. Every change that affects token issuing bumps one
 * counter in the same transaction as the change; every instance polls the counter and
 * drops its caches when it moves. Polling a one-row table is cheap, needs nothing but
 * PostgreSQL, and cannot miss a change the way a dropped LISTEN connection can.
 */
export async function bumpGeneration(tx: DbOrTx): Promise<void> {
  await tx
    .update(cacheGeneration)
    .set({ generation: sql`${cacheGeneration.generation} + 1` })
    .where(eq(cacheGeneration.id, 1));
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
 * though; this bounds how long it may act on one it missed (every cached client record
 * also expires after a minute, see ClientDirectory). Then it drops its caches, and
 * whatever needs the database answers 503 until it is back.
 */
export const OUTAGE_GRACE_MS = 30_000;

/**
 * Polls the generation and calls `onChange` when it moves. Local changes call `changed()`
 * directly, so the instance that made a change sees it on the very next request.
 */
export class GenerationWatcher {
  private last: number | undefined;
  /** When the polls began to fail, while they do. */
  private failingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = GENERATION_POLL_MS,
  ) {}

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Tells every listener that cached state is stale. */
  changed(): void {
    for (const listener of this.listeners) listener();
  }

  async start(): Promise<void> {
    this.last = await readGeneration(this.db);
    const tick = async () => {
      try {
        const current = await readGeneration(this.db);
        // Back after an outage: reload everything once, whatever the counter says.
        if (current !== this.last || this.failingSince !== undefined) {
          this.last = current;
          this.failingSince = undefined;
          this.changed();
        }
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
}
