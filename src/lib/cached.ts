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

/**
 * Cached values by key, each kept until `maxAgeMs` has passed or the whole map is
 * invalidated, at most `maxEntries` of them (the oldest goes first). Failed loads are never
 * kept, as in Cached.
 */
export class CachedMap<K, V> {
  private readonly entries = new Map<K, { value: Promise<V>; loadedAt: number; settled: boolean }>();

  constructor(
    private readonly load: (key: K) => Promise<V>,
    private readonly options: { maxAgeMs: number; maxEntries: number; now?: () => number },
  ) {}

  get(key: K): Promise<V> {
    const now = (this.options.now ?? systemClock)();
    const cached = this.entries.get(key);
    if (cached !== undefined && now - cached.loadedAt < this.options.maxAgeMs) return cached.value;
    const value = this.load(key);
    const entry = { value, loadedAt: now, settled: false };
    value.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) evictOldest(this.entries);
    this.entries.set(key, entry);
    return value;
  }

  invalidate(): void {
    this.entries.clear();
  }

  /**
   * Loads `key` again, whatever the cache holds, and keeps the result (as get does); a load
   * already under way is fresh enough, and is joined.
   */
  reload(key: K): Promise<V> {
    const cached = this.entries.get(key);
    if (cached !== undefined && !cached.settled && this.has(key)) return cached.value;
    this.entries.delete(key);
    return this.get(key);
  }

  /** Whether get(key) would answer now with a value already loaded: no load to start or wait for. */
  holdsLoaded(key: K): boolean {
    return this.has(key) && this.entries.get(key)?.settled === true;
  }

  /** Whether get(key) would answer from the cache now (loaded, or being loaded), without loading. */
  has(key: K): boolean {
    const cached = this.entries.get(key);
    return cached !== undefined && (this.options.now ?? systemClock)() - cached.loadedAt < this.options.maxAgeMs;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Drops a map's oldest entry (Maps iterate in insertion order). */
export function evictOldest(map: Map<unknown, unknown>): void {
  const oldest = map.keys().next();
  if (!oldest.done) map.delete(oldest.value);
}
