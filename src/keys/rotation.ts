import { type Actor, recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import type { SigningAlg } from '../config.js';
import type { Database, Tx } from '../db/connect.js';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js';
import type { RotatedKeyStatus } from '../schemas/enums.js';
import type { RotationResponse, SigningKeyInfo } from '../schemas/keys.js';
import { activationTime, earliestActivation, JWKS_MAX_AGE_SECONDS, keyTimeline, retiredPublishUntil, signingSince } from './publication.js';
import type { KeyEncryptionInput } from './sealing.js';
import { newKeyRow } from './signing-keys.js';
import {
  activateNextKey,
  activeAndNextKeyTimes,
  dueNextKid,
  getSigningKey,
  insertSigningKey,
  retireActiveKey,
  setActivation,
  signingKeyWithStatus,
  withdrawSigningKeys,
} from './store.js';

/** What rotation needs from the configuration. */
export interface RotationSettings {
  /** SIGNING_ALG: the algorithm of new keys. */
  alg: SigningAlg;
  keys: KeyEncryptionInput;
  /** ACCESS_TOKEN_TTL: how long a retired key's tokens live, so how long it stays published. */
  maxTokenTtl: number;
  /** KEY_PUBLICATION_LEAD: seconds a next key is published before it signs. */
  publicationLead: number;
}

/**
 * The result of a rotation request. `active`: `kid` signs from now on. `next`: `kid` is
 * published and starts signing at `activatesAt`, on its own. `withdrawn`: keys an
 * emergency rotation took out of the JWKS.
 */
export interface RotationOutcome {
  status: RotatedKeyStatus;
  kid: string;
  activatesAt: Date;
  withdrawn: string[];
}

/**
 * Makes `nextKid` the active key, retiring the active one (published until its tokens
 * have expired). The caller holds the `keys` lock and has checked that `nextKid` is next.
 */
async function promote(tx: Tx, nextKid: string, now: Date, settings: RotationSettings, actor: Actor): Promise<void> {
  const retired = await retireActiveKey(tx, now, retiredPublishUntil(now, settings.maxTokenTtl));
  await activateNextKey(tx, nextKid, now);
  await recordChange(tx, { action: 'key.rotated', actor, details: { kid: nextKid, retired } });
}

/** Creates and publishes a next key that signs `leadSeconds` from now. The caller holds the `keys` lock. */
async function publishNextKey(
  tx: Tx,
  now: Date,
  settings: RotationSettings,
  actor: Actor,
  automatic: boolean,
  leadSeconds: number,
): Promise<RotationOutcome> {
  const row = await newKeyRow(settings.alg, settings.keys, 'next', activationTime(now, leadSeconds));
  // Published now, by the clock its activation counts from (see earliestActivation).
  await insertSigningKey(tx, { ...row, createdAt: now });
  await recordChange(tx, {
    action: 'key.scheduled',
    actor,
    details: { kid: row.kid, alg: row.alg, activates_at: row.activatesAt.toISOString(), automatic },
  });
  return { status: 'next', kid: row.kid, activatesAt: row.activatesAt, withdrawn: [] };
}

/**
 * A normal rotation (POST /admin/keys/rotate, `portier keys rotate`): switches to the next
 * key if it has been published long enough; otherwise answers with the pending next key,
 * creating and publishing one if there is none, which signs KEY_PUBLICATION_LEAD later, or
 * `activateAfter` seconds later when that is given (checked against the JWKS max-age and
 * 30 days by the API's schema). Never switches to a key verifiers may not have seen yet.
 * `activateAfter` while a next key is pending is a conflict: it would say nothing about
 * that key (bringForward moves it).
 */
export function requestRotation(
  database: Database,
  settings: RotationSettings,
  now: Date,
  actor: Actor,
  options: { activateAfter?: number | undefined } = {},
): Promise<RotationOutcome> {
  return database.exclusive('keys', async (tx) => {
    const next = await signingKeyWithStatus(tx, 'next');
    if (next === undefined) return publishNextKey(tx, now, settings, actor, false, options.activateAfter ?? settings.publicationLead);
    const activatesAt = signingSince(next);
    if (options.activateAfter !== undefined) {
      throw new ConflictError(
        `key ${next.kid} is already published and starts signing at ${activatesAt.toISOString()}: ` +
          'activate_after applies to a new key only; bring that one forward instead (POST /admin/keys/{kid}/activate, portier keys activate)',
      );
    }
    if (activatesAt.getTime() > now.getTime()) return { status: 'next', kid: next.kid, activatesAt, withdrawn: [] };
    await promote(tx, next.kid, now, settings, actor);
    return { status: 'active', kid: next.kid, activatesAt: now, withdrawn: [] };
  });
}

/**
 * For a compromised key: a fresh key signs at once, and the active key and any pending next
 * key leave the JWKS at once (publish_until = now), so Portier stops accepting tokens they
 * signed as soon as each instance reloads its keys (the generation moves with the change).
 * Verifiers meet an unknown kid until they refetch the JWKS: the price of an emergency.
 */
export async function emergencyRotation(database: Database, settings: RotationSettings, now: Date, actor: Actor): Promise<RotationOutcome> {
  // A fresh key rather than a pending next one: whatever exposed the active key may have exposed that too.
  const row = await newKeyRow(settings.alg, settings.keys, 'active', now);
  return database.exclusive('keys', async (tx) => {
    const kids = await withdrawSigningKeys(tx, ['active', 'next'], now);
    await insertSigningKey(tx, row);
    await recordChange(tx, { action: 'key.emergency_rotated', actor, details: { kid: row.kid, alg: row.alg, withdrawn: kids } });
    return { status: 'active', kid: row.kid, activatesAt: now, withdrawn: kids };
  });
}

/**
 * What every instance does when its keys are due to change (see KeyCache): promote a next
 * key whose time has come, or publish a next key when KEY_ROTATION_DAYS has passed. Under
 * the `keys` lock, and only if still due once the lock is held, so across all instances
 * each happens once; the others find it done. Returns whether anything changed.
 */
export function applyDueRotation(
  database: Database,
  settings: RotationSettings,
  rotationDays: number | undefined,
  now: Date,
): Promise<boolean> {
  return database.exclusive('keys', async (tx) => {
    const dueKid = await dueNextKid(tx, now);
    if (dueKid !== undefined) {
      await promote(tx, dueKid, now, settings, SYSTEM_ACTOR);
      return true;
    }
    if (rotationDays === undefined) return false;
    const current = await activeAndNextKeyTimes(tx);
    if (!keyTimeline(current, now, rotationDays).rotationDue) return false;
    await publishNextKey(tx, now, settings, SYSTEM_ACTOR, true, settings.publicationLead);
    return true;
  });
}

/**
 * Brings the next key `kid` forward (POST /admin/keys/{kid}/activate, `portier keys
 * activate`): it signs from `at`, or, without `at`, as soon as allowed. Never earlier than
 * the JWKS max-age after it was published (earliestActivation), never later than it would
 * have anyway (this only brings forward); a time already past means now, and a key whose
 * time has come takes over at once, as in a rotation. Every instance follows: the change
 * moves the cache generation, and each KeyCache reloads with the new time. Audited as
 * `key.brought_forward` (and `key.rotated` when it switches now).
 */
export function bringForward(
  database: Database,
  settings: RotationSettings,
  kid: string,
  at: Date | undefined,
  now: Date,
  actor: Actor,
): Promise<RotationOutcome> {
  return database.exclusive('keys', async (tx) => {
    const key = await getSigningKey(tx, kid);
    if (key === undefined) throw new NotFoundError(`no signing key ${kid}`);
    if (key.status !== 'next') {
      throw new ConflictError(`key ${kid} is ${key.status}: only a next key (published, not signing yet) can be brought forward`);
    }
    const earliest = earliestActivation(key);
    const current = signingSince(key);
    if (at !== undefined && at.getTime() < earliest.getTime()) {
      throw new ValidationError([
        {
          path: '/at',
          message: `must be at or after ${earliest.toISOString()}: verifiers may keep the JWKS for its max-age (${JWKS_MAX_AGE_SECONDS} s) from when the key was published (${key.createdAt.toISOString()})`,
        },
      ]);
    }
    if (at !== undefined && at.getTime() > current.getTime()) {
      throw new ValidationError([
        {
          path: '/at',
          message: `must be at or before ${current.toISOString()}, when the key signs anyway: a key is brought forward, never put off`,
        },
      ]);
    }
    const wanted = at ?? earliest;
    const activatesAt = new Date(Math.min(current.getTime(), Math.max(wanted.getTime(), now.getTime())));
    if (activatesAt.getTime() === current.getTime() && activatesAt.getTime() > now.getTime()) {
      return { status: 'next', kid, activatesAt, withdrawn: [] };
    }
    await recordChange(tx, {
      action: 'key.brought_forward',
      actor,
      details: { kid, from: current.toISOString(), to: activatesAt.toISOString() },
    });
    if (activatesAt.getTime() <= now.getTime()) {
      await promote(tx, kid, now, settings, actor);
      return { status: 'active', kid, activatesAt: now, withdrawn: [] };
    }
    await setActivation(tx, kid, activatesAt);
    return { status: 'next', kid, activatesAt, withdrawn: [] };
  });
}

/**
 * What a rotation answers, in the API (`POST /admin/keys/rotate`) and the CLI
 * (`portier keys rotate`) alike: the outcome and the key set after it.
 */
export function toRotationResponse(outcome: RotationOutcome, items: SigningKeyInfo[]): RotationResponse {
  return {
    kid: outcome.kid,
    status: outcome.status,
    activates_at: outcome.activatesAt.toISOString(),
    withdrawn: outcome.withdrawn,
    items,
  };
}
