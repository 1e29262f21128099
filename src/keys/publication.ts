/**
 * When a signing key may sign, and when it may leave the JWKS: the timing rules of key
 * rotation, in one place. Plain functions of the key rows and the time.
 */

import type { KeyStatus } from '../schemas/enums.js';
import { DEFAULT_KEY_PUBLICATION_LEAD, JWKS_MAX_AGE_SECONDS, MAX_KEY_PUBLICATION_LEAD } from '../schemas/limits.js';

/**
 * Resource servers may cache the key set this long (the JWKS response's Cache-Control
 * max-age). Defined beside the API's limits (schemas/limits.ts), which the configuration
 * and the admin API check the publication lead against.
 */
export { JWKS_MAX_AGE_SECONDS, MAX_KEY_PUBLICATION_LEAD };

/**
 * The rule that makes rotation invisible to verifiers: a new key is published at least
 * the JWKS max-age before it signs, so a verifier that fetched the JWKS just before the
 * key appeared has refetched it (its max-age has run out) before the first token with the
 * new `kid` reaches it. How long beyond that is the publication lead (KEY_PUBLICATION_LEAD,
 * or `activate_after` for one rotation): by default the max-age plus a minute, for the
 * other instances to notice the new key (they poll the cache generation every 250 ms) and
 * for verifiers' clocks; longer for verifiers that keep the JWKS longer than its max-age
 * (see "Key publication lead" in docs/tokens.md).
 */
export const DEFAULT_PUBLICATION_LEAD_SECONDS = DEFAULT_KEY_PUBLICATION_LEAD;

/** A retired key stays in the JWKS this long past the longest token it could have signed (clock skew). */
export const RETIRED_KEY_MARGIN_SECONDS = 300;

const DAY_MS = 86_400_000;

/** When a key published at `now` starts signing, `leadSeconds` later. */
export function activationTime(now: Date, leadSeconds: number): Date {
  return new Date(now.getTime() + leadSeconds * 1000);
}

/**
 * The earliest a next key may be brought forward to: the JWKS max-age after it was
 * published (made), whatever its publication lead was. Before that, a verifier may still
 * hold a key set fetched before the key appeared.
 */
export function earliestActivation(key: Pick<KeyTimes, 'createdAt'>): Date {
  return new Date(key.createdAt.getTime() + JWKS_MAX_AGE_SECONDS * 1000);
}

/** Until when a key retired at `now` stays published: every token it signed has expired by then. */
export function retiredPublishUntil(now: Date, maxTokenTtlSeconds: number): Date {
  return new Date(now.getTime() + (maxTokenTtlSeconds + RETIRED_KEY_MARGIN_SECONDS) * 1000);
}

/** The parts of a key row the timing rules look at. */
export interface KeyTimes {
  status: KeyStatus;
  createdAt: Date;
  activatesAt: Date | null;
  publishUntil: Date | null;
}

/** Since when a key signs: activates_at, or created_at for keys made before that was recorded. */
export function signingSince(key: KeyTimes): Date {
  return key.activatesAt ?? key.createdAt;
}

/** What is due for the published keys at `now`, and when the published set next changes by itself. */
export interface KeyTimeline {
  /** A `next` key has been published long enough: promote it. */
  promotionDue: boolean;
  /** KEY_ROTATION_DAYS has passed for the active key and no `next` key exists yet: make one. */
  rotationDue: boolean;
  /** The next moment at which one of the above becomes due or a retired key leaves the JWKS. */
  changesAt: number | undefined;
}

export function keyTimeline(keys: KeyTimes[], now: Date, rotationDays: number | undefined): KeyTimeline {
  const at = now.getTime();
  const next = keys.find((key) => key.status === 'next');
  const active = keys.find((key) => key.status === 'active');
  const moments: number[] = [];
  if (next !== undefined) moments.push(signingSince(next).getTime());
  const rotateAt =
    rotationDays !== undefined && next === undefined && active !== undefined
      ? signingSince(active).getTime() + rotationDays * DAY_MS
      : undefined;
  if (rotateAt !== undefined) moments.push(rotateAt);
  for (const key of keys) {
    if (key.status === 'retired' && key.publishUntil !== null && key.publishUntil.getTime() > at) moments.push(key.publishUntil.getTime());
  }
  return {
    promotionDue: next !== undefined && signingSince(next).getTime() <= at,
    rotationDue: rotateAt !== undefined && rotateAt <= at,
    changesAt: moments.length === 0 ? undefined : Math.min(...moments),
  };
}
