import type { DbOrTx } from '../db/connect.js';
import { bumpGeneration, type StaleEntry } from '../db/generation.js';
import { insertAuditEvent } from './store.js';

/**
 * Who made a change: an admin client (its client_id, and its token's `sub`), a person
 * signed in to the console (no client_id; their subject `<issuer>#<sub>` and their name),
 * or `cli` / `bootstrap` / `system`.
 */
export interface Actor {
  clientId: string | null;
  sub: string | null;
  /** How to show them (a person's name or email); the client_id when not given. */
  name?: string | undefined;
  ip?: string | undefined;
}

export const BOOTSTRAP_ACTOR: Actor = { clientId: 'bootstrap', sub: null };
/** Portier itself, e.g. rotating the key at start because SIGNING_ALG changed. */
export const SYSTEM_ACTOR: Actor = { clientId: 'system', sub: null };

/** The stable name recorded as a client's `created_by` (and filtered on). */
export function actorName(actor: Actor): string {
  return actor.sub ?? actor.clientId ?? 'unknown';
}

/** The name shown for them: a person's name or email, else the admin client's client_id. */
export function actorDisplayName(actor: Actor): string {
  return actor.name ?? actor.clientId ?? actorName(actor);
}

/** A change as the audit trail records it. */
interface ChangeEvent {
  action: string;
  actor: Actor;
  clientId?: string | null;
  details?: Record<string, unknown>;
}

/**
 * Records a change in the transaction that makes it: its audit event (whose id it returns), and a move of the
 * cache generation naming what the change made stale, so that every instance drops just
 * that from its caches (db/generation.ts). Both commit with the change or not at all.
 * `details` must never contain a secret.
 */
export async function recordChange(tx: DbOrTx, event: ChangeEvent): Promise<number> {
  const id = await recordAuditEvent(tx, event);
  const stale = staleAfter(event);
  if (stale !== null) await bumpGeneration(tx, stale);
  return id;
}

/**
 * What a change makes stale in the instances' caches, read from its action's object (the
 * part before the dot) and the object's id; null when nothing (a configuration apply's
 * summary: each of its steps recorded its own change). An action not listed here makes
 * everything stale, which is always safe.
 */
function staleAfter(event: ChangeEvent): StaleEntry[] | null {
  const object = event.action.slice(0, event.action.indexOf('.'));
  const detail = (name: string) => (typeof event.details?.[name] === 'string' ? (event.details[name] as string) : undefined);
  switch (object) {
    case 'client':
    case 'credential':
      return [{ topic: 'clients', key: event.clientId ?? undefined }];
    case 'service':
      return [{ topic: 'services', key: detail('service') }];
    case 'key':
    case 'keys':
      return [{ topic: 'keys' }];
    case 'trusted_issuer':
      return [{ topic: 'trusted_issuers', key: detail('trusted_issuer') }];
    case 'session':
      return [{ topic: 'sessions' }];
    case 'config':
    // Webhooks are cached nowhere: the delivery workers read them from the database. (A
    // credential's notices, credential.expiring and the like, make its client's entry stale
    // above: a reload, harmless, where a removed credential must be out of every cache.)
    case 'webhook':
      return null;
    default:
      return [];
  }
}

/** Writes the audit event; returns its id. */
function recordAuditEvent(tx: DbOrTx, event: ChangeEvent): Promise<number> {
  return insertAuditEvent(tx, {
    action: event.action,
    actorClientId: event.actor.clientId,
    actorSub: event.actor.sub,
    actorName: actorDisplayName(event.actor),
    ip: event.actor.ip ?? null,
    clientId: event.clientId ?? null,
    details: event.details ?? {},
  });
}
