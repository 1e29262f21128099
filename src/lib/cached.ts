import { systemClock } from './clock.js';

/**
 * A value loaded on first use and kept until invalidated. A load that fails is never kept:
 * the caller that triggered it gets the error, and the next call loads again. That is what
 * lets every cache recover by itself once the database is back.
 *
 * An invalidation during a load wins: the load's result is handed to the callers already
 * waiting for it, but it is not kept, because it may predate the change that invalidated it.
 */
export class Cached<T> {
  private current: Promise<T> | undefined;

  constructor(private readonly load: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.current === undefined) {
      const loading = this.load();
      this.current = loading;
      loading.catch(() => {
        if (this.current === loading) this.current = undefined;
      });
    }
    return this.current;
  }

  invalidate(): void {
    this.current = undefined;
  }

  /** Whether `value` (a promise get() returned) is still the one kept: not yet invalidated. */
  protected holds(value: Promise<T>): boolean {
    return this.current === value;
  }
}

/** A value of a CachedMap: loading, or loaded (then `value` holds what it loaded). */
interface Entry<V> {
  promise: Promise<V>;
  /** When the entry expires from: its load, or the last failed reload that kept it (StaleIfError). */
  loadedAt: number;
  /** When its value was read from the source: a stale value keeps the time of its first load. */
  valueAt: number;
  settled: boolean;
  value?: V;
}

/**
 * When a CachedMap may answer with a value past its age: the reload failed with an error
 * `servesStale` accepts (the database is unreachable), and the value is no older than
 * maxAgeMs + `forMs`. The stale value is then tried again `retryAfterMs` later, not on
 * every get.
 */
export interface StaleIfError {
  forMs: number;
  retryAfterMs: number;
  servesStale(error: unknown): boolean;
}

/**
 * Cached values by key, each kept until `maxAgeMs` has passed or it is invalidated, at most
 * `maxEntries` of them (the oldest goes first). Failed loads are never kept, as in Cached,
 * unless `staleIfError` lets the previous value answer for a while.
 */
export class CachedMap<K, V> {
  private readonly entries = new Map<K, Entry<V>>();

  constructor(
    private readonly load: (key: K) => Promise<V>,
    private readonly options: { maxAgeMs: number; maxEntries: number; now?: () => number; staleIfError?: StaleIfError },
  ) {}

  get(key: K): Promise<V> {
    const now = this.now();
    const cached = this.entries.get(key);
    if (cached !== undefined && now - cached.loadedAt < this.options.maxAgeMs) return cached.promise;
    return this.start(key, cached, now);
  }

  /** Loads `key` (in place of `cached`, if any) and keeps the load as its entry. */
  private start(key: K, cached: Entry<V> | undefined, now: number): Promise<V> {
    const entry: Entry<V> = { promise: Promise.resolve() as Promise<V>, loadedAt: now, valueAt: now, settled: false };
    entry.promise = this.loadOrKeep(key, entry, cached, now);
    entry.promise.then(
      (value) => {
        entry.settled = true;
        entry.value = value;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) evictOldest(this.entries);
    this.entries.set(key, entry);
    return entry.promise;
  }

  /**
   * Loads `key` for `entry`; when that fails and staleIfError allows, answers with the
   * `previous` entry's value instead, and `entry` takes on that value's age.
   */
  private loadOrKeep(key: K, entry: Entry<V>, previous: Entry<V> | undefined, now: number): Promise<V> {
    const loading = this.load(key);
    const stale = this.options.staleIfError;
    if (stale === undefined || previous === undefined || !previous.settled) return loading;
    return loading.catch((error: unknown) => {
      const tooOld = now - previous.valueAt >= this.options.maxAgeMs + stale.forMs;
      // Not kept if it was invalidated meanwhile: a change made it stale for good.
      if (!stale.servesStale(error) || tooOld || this.entries.get(key) !== entry) throw error;
      entry.valueAt = previous.valueAt;
      entry.loadedAt = now - this.options.maxAgeMs + stale.retryAfterMs;
      return previous.value as V;
    });
  }

  invalidate(): void {
    this.entries.clear();
  }

  /** Forgets `key`: the next get loads it again. A load under way is not kept. */
  delete(key: K): void {
    this.entries.delete(key);
  }

  /**
   * Forgets every loaded value for which `stale` says so, and every value still loading
   * (it cannot be asked, and may predate the change that calls this).
   */
  deleteWhere(stale: (key: K, value: V) => boolean): void {
    for (const [key, entry] of this.entries) {
      if (!entry.settled || stale(key, entry.value as V)) this.entries.delete(key);
    }
  }

  /**
   * Loads `key` again, whatever the cache holds, and keeps the result (as get does); a load
   * already under way is fresh enough, and is joined. With staleIfError, a reload that
   * fails leaves the value it was to replace in place.
   */
  reload(key: K): Promise<V> {
    const cached = this.entries.get(key);
    if (cached !== undefined && !cached.settled && this.has(key)) return cached.promise;
    return this.start(key, cached, this.now());
  }

  /** Whether get(key) would answer now with a value already loaded: no load to start or wait for. */
  holdsLoaded(key: K): boolean {
    return this.has(key) && this.entries.get(key)?.settled === true;
  }

  /** Whether get(key) would answer from the cache now (loaded, or being loaded), without loading. */
  has(key: K): boolean {
    const cached = this.entries.get(key);
    return cached !== undefined && this.now() - cached.loadedAt < this.options.maxAgeMs;
  }

  get size(): number {
    return this.entries.size;
  }

  private now(): number {
    return (this.options.now ?? systemClock)();
  }
}

/** Drops a map's oldest entry (Maps iterate in insertion order). */
export function evictOldest(map: Map<unknown, unknown>): void {
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}
