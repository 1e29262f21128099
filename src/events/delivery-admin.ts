import { and, desc, eq, lt } from 'drizzle-orm';
import { type Actor, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { webhookDeliveries, webhooks } from '../db/schema-events.js';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { MAX_PAGE_SIZE } from '../schemas/common.js';
import type { DeliveryResource } from '../schemas/webhooks.js';
import { eventType } from './types.js';

// A webhook's deliveries as the admin API shows and acts on them: listed, sent again, or a
// test event queued. The worker that sends them is in deliveries.ts and worker.ts.

function deliveryResource(row: { delivery: typeof webhookDeliveries.$inferSelect; eventId: string; action: string }): DeliveryResource {
  const { delivery } = row;
  return {
    id: String(delivery.id),
    event_id: row.eventId,
    type: eventType(row.action),
    status: delivery.status,
    attempts: delivery.attempts,
    last_status: delivery.lastStatus,
    last_error: delivery.lastError,
    next_attempt_at: delivery.status === 'pending' ? (delivery.nextAttemptAt ?? delivery.createdAt).toISOString() : null,
    created_at: delivery.createdAt.toISOString(),
    finished_at: delivery.finishedAt?.toISOString() ?? null,
  };
}

async function existingWebhook(db: DbOrTx, id: string): Promise<typeof webhooks.$inferSelect> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  if (row === undefined) throw new NotFoundError(`webhook ${id} not found`);
  return row;
}

/** A webhook's deliveries, newest first; the cursor is the last delivery id seen. */
export async function listDeliveries(
  db: DbOrTx,
  webhookId: string,
  page: { limit?: number | undefined; cursor?: string | undefined },
): Promise<{ items: DeliveryResource[]; next_cursor: string | null }> {
  await existingWebhook(db, webhookId);
  const limit = Math.min(Math.max(page.limit ?? 50, 1), MAX_PAGE_SIZE);
  if (page.cursor !== undefined && !/^\d{1,18}$/.test(page.cursor)) {
    throw new ValidationError([{ path: '/querystring/cursor', message: 'is not a cursor this server issued' }]);
  }
  const rows = await db
    .select({ delivery: webhookDeliveries, eventId: auditEvents.eventId, action: auditEvents.action })
    .from(webhookDeliveries)
    .innerJoin(auditEvents, eq(auditEvents.id, webhookDeliveries.auditEventId))
    .where(
      and(
        eq(webhookDeliveries.webhookId, webhookId),
        page.cursor === undefined ? undefined : lt(webhookDeliveries.id, Number(page.cursor)),
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit).map(deliveryResource);
  const last = items.at(-1);
  return { items, next_cursor: rows.length > limit && last !== undefined ? last.id : null };
}

/**
 * Sends a delivery's event again: a new delivery of the same event (same CloudEvent id),
 * at the end of the webhook's queue. Audited.
 */
export async function redeliver(db: DbOrTx, webhookId: string, deliveryId: string, actor: Actor): Promise<DeliveryResource> {
  return db.transaction(async (tx) => {
    await existingWebhook(tx, webhookId);
    const [original] = await tx
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, Number(deliveryId)), eq(webhookDeliveries.webhookId, webhookId)));
    if (original === undefined) throw new NotFoundError(`delivery ${deliveryId} of webhook ${webhookId} not found`);
    return newDelivery(tx, webhookId, original.auditEventId, async () => {
      await recordChange(tx, { action: 'webhook.redelivered', actor, details: { webhook: webhookId, delivery: deliveryId } });
    });
  });
}

/**
 * Sends a `dev.portier.webhook.test` event to this webhook only (whatever its types, and
 * even disabled: it goes out once it is enabled). The event is audited like any other;
 * the trigger leaves its deliveries to this function.
 */
export async function sendTestEvent(db: DbOrTx, webhookId: string, actor: Actor): Promise<DeliveryResource> {
  return db.transaction(async (tx) => {
    await existingWebhook(tx, webhookId);
    const [event] = await tx
      .insert(auditEvents)
      .values({
        action: 'webhook.test',
        actorClientId: actor.clientId,
        actorSub: actor.sub,
        actorName: actor.name ?? actor.clientId,
        ip: actor.ip ?? null,
        details: { webhook: webhookId },
      })
      .returning({ id: auditEvents.id });
    if (event === undefined) throw new Error('insert returned no row');
    return newDelivery(tx, webhookId, event.id, async () => undefined);
  });
}

async function newDelivery(tx: DbOrTx, webhookId: string, auditEventId: number, audit: () => Promise<void>): Promise<DeliveryResource> {
  const [delivery] = await tx.insert(webhookDeliveries).values({ webhookId, auditEventId }).returning();
  if (delivery === undefined) throw new Error('insert returned no row');
  await audit();
  const [event] = await tx
    .select({ eventId: auditEvents.eventId, action: auditEvents.action })
    .from(auditEvents)
    .where(eq(auditEvents.id, auditEventId));
  return deliveryResource({ delivery, eventId: event?.eventId ?? '', action: event?.action ?? '' });
}
