import { eq, sql } from 'drizzle-orm';
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
 * Polls the generation and calls `onChange` when it moves. Local changes call `changed()`
 * directly, so the instance that made a change sees it on the very next request.
 */
export class GenerationWatcher {
  private last: number | undefined;
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
        if (current !== this.last) {
          this.last = current;
          this.changed();
        }
      } catch (error) {
        // Unknown state: drop caches rather than serve from them, and say so.
        this.changed();
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
