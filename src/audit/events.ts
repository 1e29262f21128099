import type { DbOrTx } from '../db/connect.js';
import { bumpGeneration } from '../db/generation.js';
import { auditEvents } from '../db/schema.js';

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

/**
 * Records a change in the transaction that makes it: its audit event, and a move of the
 * cache generation so that every instance drops its caches (db/generation.ts). Both commit
 * with the change or not at all. `details` must never contain a secret.
 */
export async function recordChange(
  tx: DbOrTx,
  event: { action: string; actor: Actor; clientId?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  await recordAuditEvent(tx, event);
  await bumpGeneration(tx);
}

async function recordAuditEvent(
  tx: DbOrTx,
  event: { action: string; actor: Actor; clientId?: string | null; details?: Record<string, unknown> },
): Promise<void> {
  await tx.insert(auditEvents).values({
    action: event.action,
    actorClientId: event.actor.clientId,
    actorSub: event.actor.sub,
    actorName: actorDisplayName(event.actor),
    ip: event.actor.ip ?? null,
    clientId: event.clientId ?? null,
    details: event.details ?? {},
  });
}
