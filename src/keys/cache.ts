import type { Database } from '../db/connect.js';
import { Cached } from '../lib/cached.js';
import type { Clock } from '../lib/clock.js';
import { applyDueRotation, type RotationSettings } from './rotation.js';
import { type KeySet, loadKeySet } from './signing-keys.js';

/**
 * Keeps the key set in memory. The token endpoint signs with the cached key; the cache is
 * dropped when the cache generation moves (a change anywhere) and reloaded on next use.
 *
 * It also drives scheduled changes, with no timer: a key set knows when it next changes by
 * itself (a next key's activates_at, KEY_ROTATION_DAYS, a retired key's publish_until). The
 * first use at or after that moment, by this instance's clock, reloads it, and a load that
 * finds a promotion or automatic rotation due applies it (once across all instances, see
 * applyDueRotation) before loading again.
 */
export class KeyCache extends Cached<KeySet> {
  constructor(
    database: Database,
    settings: RotationSettings & { rotationDays: number | undefined },
    private readonly clock: Clock,
  ) {
    super(async () => {
      const now = new Date(clock());
      const loaded = await loadKeySet(database.db, settings.keys, now, settings.rotationDays);
      const { promotionDue, rotationDue } = loaded.timeline;
      if (!promotionDue && !rotationDue) return loaded;
      await applyDueRotation(database, settings, settings.rotationDays, now);
      return loadKeySet(database.db, settings.keys, now, settings.rotationDays);
    });
  }

  override get(): Promise<KeySet> {
    const cached = super.get();
    return cached.then((set) => {
      const { changesAt } = set.timeline;
      if (changesAt === undefined || this.clock() < changesAt) return set;
      // Only the first caller to notice drops the set; the others wait for the same reload.
      if (this.holds(cached)) this.invalidate();
      // A scheduled change can wait for the database: until then the set in hand is still
      // safe (a due next key can take over later; a retired key listed a little longer does
      // no harm). Changes made elsewhere (an emergency withdrawal) come through the
      // generation instead, which drops the set for good.
      return super.get().catch(() => set);
    });
  }
}
