import type { Db } from '../db/connect.js';
import { type Clock, systemClock } from '../lib/clock.js';

/** Each distinct entry is written at most once per window; repeats are counted. */
export const WINDOW_MS = 60_000;
/** At most this many distinct entries are written per window; the rest are summed in one row. */
export const MAX_ROWS_PER_WINDOW = 500;

/**
 * What the throttled audit writers share (token denials in denials.ts, token exchanges in
 * exchanges.ts): time in windows of a minute of the app's clock; the first entry of a kind
 * (its key) in a window written at once, its repeats counted and written in one more row
 * when the window ends; beyond MAX_ROWS_PER_WINDOW kinds, the rest only counted as overflow.
 * A flood thus costs the database a few rows a minute, not one per request.
 */
export abstract class WindowedWriter<Entry, Row> {
  private seen = new Map<string, { entry: Entry; repeats: number }>();
  private overflow = 0;
  private windowStartedAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly db: Db,
    protected readonly onError: (error: unknown) => void,
    protected readonly now: Clock = systemClock,
  ) {
    this.windowStartedAt = now();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch(this.onError);
    }, WINDOW_MS).unref();
  }

  /** Writes what the window that ends now counted and opens a new one. */
  async flush(): Promise<void> {
    const repeated = [...this.seen.values()].filter((entry) => entry.repeats > 0);
    const overflow = this.overflow;
    this.seen = new Map();
    this.overflow = 0;
    const rows = this.closeWindow(repeated, overflow);
    this.windowStartedAt = this.now();
    await this.write(rows);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Closes the window first if it has ended: the start of each record(). */
  protected rollWindow(): void {
    if (this.now() - this.windowStartedAt >= WINDOW_MS) this.flush().catch(this.onError);
  }

  /** Counts `entry` as a repeat of its key, or writes `first` at once when the key is new in the window (room permitting). */
  protected count(key: string, entry: Entry, first: Row): void {
    const seen = this.seen.get(key);
    if (seen !== undefined) {
      seen.repeats += 1;
      return;
    }
    if (!this.roomForAnotherRow()) return;
    this.seen.set(key, { entry, repeats: 0 });
    this.writeNow(first);
  }

  /** Whether one more distinct row fits in the window; if not, the entry is counted as overflow. */
  protected roomForAnotherRow(): boolean {
    if (this.seen.size + this.otherRows() < MAX_ROWS_PER_WINDOW) return true;
    this.overflow += 1;
    return false;
  }

  protected writeNow(row: Row): void {
    this.write([row]).catch(this.onError);
  }

  /** Distinct rows this window holds besides the counted entries (denials' summaries). */
  protected otherRows(): number {
    return 0;
  }

  /** The rows of a window that ends: its repeated entries, what else the writer kept, and the overflow. */
  protected abstract closeWindow(repeated: Array<{ entry: Entry; repeats: number }>, overflow: number): Row[];

  protected abstract write(rows: Row[]): Promise<void>;
}
