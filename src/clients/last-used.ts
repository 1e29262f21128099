import { sql } from 'drizzle-orm';
import type { Db } from '../db/connect.js';

/** last_used_at is written at most this often: the admin API promises it "within 60 s of use" (README). */
export const LAST_USED_FLUSH_MS = 30_000;

/**
 * Remembers when each client last got a token, and writes all of them in one UPDATE every
 * LAST_USED_FLUSH_MS instead of one write per token request. A flush never moves a
 * last_used_at backwards (several instances may flush the same client).
 */
export class LastUsedTracker {
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly onError: (error: unknown) => void,
  ) {}

  record(clientUuid: string, at = new Date()): void {
    this.pending.set(clientUuid, at);
  }

  start(intervalMs = LAST_USED_FLUSH_MS): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.onError);
    }, intervalMs).unref();
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const values = sql.join(
      [...batch].map(([uuid, at]) => sql`(${uuid}::uuid, ${at.toISOString()}::timestamptz)`),
      sql`, `,
    );
    try {
      await this.db.execute(sql`
        UPDATE clients SET last_used_at = used.at
        FROM (VALUES ${values}) AS used(id, at)
        WHERE clients.id = used.id AND (clients.last_used_at IS NULL OR clients.last_used_at < used.at)`);
    } catch (error) {
      // Keep the newer of what failed and what arrived since, for the next flush.
      for (const [uuid, at] of batch) if (!this.pending.has(uuid)) this.pending.set(uuid, at);
      throw error;
    }
  }

  /** Stops the timer and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
