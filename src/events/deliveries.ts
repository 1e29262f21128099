import { HTTP } from 'cloudevents';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { auditEvents } from '../db/schema.js';
import { webhookDeliveries, webhooks } from '../db/schema-events.js';
import { TRACEPARENT } from '../lib/trace-context.js';
import { hookSignature } from '../policy/hook.js';
import { toCloudEvent } from './cloud-events.js';
import { webhookSecret } from './webhooks.js';

/**
 * Deliveries: one event to one webhook, at least once, in order per webhook. The rows are
 * written with the event (the trigger of migration 0017), so they survive restarts and an
 * outage of the receiver; every instance's DeliveryWorker (events/worker.ts) claims the
 * first pending delivery of each webhook with FOR UPDATE SKIP LOCKED, marks it leased for
 * the time a send may take, sends it outside any transaction, and records the outcome.
 * An instance that dies mid-send leaves the lease to run out: another instance then sends
 * the delivery again (so a receiver may see an event twice, and deduplicates on its id).
 */

/** What deliveries need from the configuration. */
export interface DeliverySettings {
  /** WEBHOOK_MAX_ATTEMPTS. */
  maxAttempts: number;
  /** WEBHOOK_TIMEOUT. */
  timeoutMs: number;
  /** KEY_ENCRYPTION_KEY, to open sealed signing secrets. */
  keyEncryptionKey: Buffer | undefined;
  /** The events' `source` (ISSUER). */
  source: string;
}

/** The first retry comes about this long after a failed attempt; each next one twice as late… */
export const FIRST_RETRY_MS = 10_000;
/** …up to this: with 15 attempts, the last is about a day after the first. */
export const MAX_RETRY_MS = 6 * 3600_000;
/** A webhook whose attempts have all failed this long is disabled (and an event says so). */
export const DISABLE_AFTER_FAILING_MS = 24 * 3600_000;
/** A lease outlasts the send's own timeout by this much, so a slow send is never taken over while it runs. */
const LEASE_MARGIN_MS = 30_000;

/**
 * How long after failed attempt number `attempts` (1, 2, …) the next one comes: doubling
 * from FIRST_RETRY_MS, capped at MAX_RETRY_MS, with ±20 % jitter so that the deliveries
 * of many webhooks failing together do not all come back at the same moment.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A delivery claimed by this instance: what sending it needs. */
export interface ClaimedDelivery {
  id: number;
  attempts: number;
  leaseUntil: Date;
  webhook: typeof webhooks.$inferSelect;
  event: typeof auditEvents.$inferSelect;
}

/**
 * Claims up to `limit` deliveries due at `now`, each the first pending one of its webhook
 * (so a webhook's events go out in order, one at a time), of enabled webhooks, not leased
 * by another instance. Rows another transaction is claiming are skipped (SKIP LOCKED), so
 * instances never wait for each other nor claim the same delivery.
 */
export async function claimDeliveries(db: DbOrTx, now: number, leaseMs: number, limit: number): Promise<ClaimedDelivery[]> {
  const at = new Date(now).toISOString();
  const leaseUntil = new Date(now + leaseMs);
  const claimed = (await db.execute(sql`
    WITH next AS (
      SELECT d.id FROM ${webhookDeliveries} d JOIN ${webhooks} w ON w.id = d.webhook_id
      WHERE d.status = 'pending' AND w.enabled
        AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ${at}::timestamptz)
        AND (d.lease_until IS NULL OR d.lease_until <= ${at}::timestamptz)
        AND NOT EXISTS (
          SELECT 1 FROM ${webhookDeliveries} e WHERE e.webhook_id = d.webhook_id AND e.status = 'pending' AND e.id < d.id
        )
      ORDER BY d.id
      LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE ${webhookDeliveries} SET lease_until = ${leaseUntil.toISOString()}::timestamptz, attempts = ${webhookDeliveries.attempts} + 1
    FROM next WHERE ${webhookDeliveries.id} = next.id
    RETURNING ${webhookDeliveries.id} AS id, ${webhookDeliveries.attempts} AS attempts`)) as unknown as {
    rows: Array<{ id: string | number; attempts: number }>;
  };
  if (claimed.rows.length === 0) return [];
  const ids = claimed.rows.map((row) => Number(row.id));
  const rows = await db
    .select({ delivery: webhookDeliveries, webhook: webhooks, event: auditEvents })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(auditEvents, eq(auditEvents.id, webhookDeliveries.auditEventId))
    .where(inArray(webhookDeliveries.id, ids));
  return rows.map(({ delivery, webhook, event }) => ({
    id: delivery.id,
    attempts: delivery.attempts,
    leaseUntil,
    webhook,
    event,
  }));
}

/** The lease a claim takes: the send's timeout and a margin. */
export function leaseMs(settings: Pick<DeliverySettings, 'timeoutMs'>): number {
  return settings.timeoutMs + LEASE_MARGIN_MS;
}

/** An event as an HTTP message in one mode, before it is signed for a webhook. */
export interface EventMessage {
  headers: Readonly<Record<string, string>>;
  body: string;
}

/**
 * The CloudEvent of an audit row as an HTTP message: structured mode (the whole event as
 * `application/cloudevents+json`) or binary mode (`ce-*` headers, `data` as the body). The
 * same for every webhook of that mode, so a worker builds it once per event and mode.
 */
export function eventMessage(event: typeof auditEvents.$inferSelect, mode: 'structured' | 'binary', source: string): EventMessage {
  const cloudEvent = toCloudEvent(event, source);
  const message = mode === 'binary' ? HTTP.binary(cloudEvent) : HTTP.structured(cloudEvent);
  const body = typeof message.body === 'string' ? message.body : JSON.stringify(message.body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) if (typeof value === 'string') headers[name.toLowerCase()] = value;
  return { headers, body };
}

/** An HTTP request ready to send: the event in the webhook's mode, signed with its secret. */
export interface SignedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /**
   * The W3C traceparent of the span that wrote the event, when tracing was on: the request
   * goes out as part of that trace, with a `traceparent` header (lib/trace-context.ts). Not
   * a CloudEvents attribute: the body is the event as it was recorded.
   */
  traceparent: string | null;
}

/**
 * The request of a delivery: the event's message (eventMessage) signed like the issuance
 * hook: `Portier-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
 * webhook's secret, and `Portier-Delivery` naming the delivery.
 */
export function signedRequest(
  claimed: ClaimedDelivery,
  settings: DeliverySettings,
  now: number,
  message: EventMessage = eventMessage(claimed.event, claimed.webhook.mode, settings.source),
): SignedRequest {
  const headers: Record<string, string> = { ...message.headers };
  const secret = webhookSecret(claimed.webhook, settings.keyEncryptionKey);
  headers['portier-signature'] = hookSignature(secret, Math.floor(now / 1000), message.body);
  headers['portier-delivery'] = String(claimed.id);
  headers['user-agent'] = 'Portier webhooks';
  const { traceparent } = claimed.event;
  return {
    url: claimed.webhook.url,
    headers,
    body: message.body,
    traceparent: traceparent !== null && TRACEPARENT.test(traceparent) ? traceparent : null,
  };
}

/** How a send went: a 2xx answer, or why not (the status when there was an answer). */
export type SendOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** What a recorded outcome did, for metrics and logs. */
export type DeliveryResult = 'delivered' | 'retry' | 'failed' | 'lost_lease';

/** A claimed delivery and how its send went. */
export interface Attempt {
  claimed: ClaimedDelivery;
  outcome: SendOutcome;
}

/**
 * Records how claimed deliveries went, each under its lease (a delivery whose lease ran out
 * and was claimed by another instance is left to that instance: `lost_lease`); the results
 * in the order of `attempts`. The delivered ones are marked in one statement per lease and
 * answer code (a claim gives one lease to all it claims, so usually one statement); each
 * failure in a transaction of its own (recordFailure).
 */
export async function recordOutcomes(
  db: DbOrTx,
  attempts: Attempt[],
  now: number,
  settings: Pick<DeliverySettings, 'maxAttempts'>,
  random: () => number = Math.random,
): Promise<DeliveryResult[]> {
  const results = new Map<number, DeliveryResult>();
  const delivered = new Map<string, { leaseUntil: Date; status: number; claimed: ClaimedDelivery[] }>();
  for (const { claimed, outcome } of attempts) {
    if (!outcome.ok) {
      results.set(claimed.id, await recordFailure(db, claimed, outcome, now, settings, random));
      continue;
    }
    const key = `${claimed.leaseUntil.getTime()}:${outcome.status}`;
    const group = delivered.get(key) ?? { leaseUntil: claimed.leaseUntil, status: outcome.status, claimed: [] };
    group.claimed.push(claimed);
    delivered.set(key, group);
  }
  for (const group of delivered.values()) {
    const marked = await db
      .update(webhookDeliveries)
      .set({
        status: 'delivered',
        lastStatus: group.status,
        lastError: null,
        leaseUntil: null,
        nextAttemptAt: null,
        finishedAt: new Date(now),
      })
      .where(
        and(
          inArray(
            webhookDeliveries.id,
            group.claimed.map((claimed) => claimed.id),
          ),
          eq(webhookDeliveries.leaseUntil, group.leaseUntil),
        ),
      )
      .returning({ id: webhookDeliveries.id });
    const mine = new Set(marked.map((row) => row.id));
    for (const claimed of group.claimed) results.set(claimed.id, mine.has(claimed.id) ? 'delivered' : 'lost_lease');
    // A success ends a webhook's failing streak. Only one delivery of a webhook is out at a
    // time, so the streak seen at the claim is the one to end; most webhooks have none, and
    // then nothing is written.
    const failing = group.claimed.filter((claimed) => mine.has(claimed.id) && claimed.webhook.failingSince !== null);
    if (failing.length > 0) {
      await db
        .update(webhooks)
        .set({ failingSince: null })
        .where(
          inArray(
            webhooks.id,
            failing.map((claimed) => claimed.webhook.id),
          ),
        );
    }
  }
  return attempts.map(({ claimed }) => results.get(claimed.id) ?? 'lost_lease');
}

/**
 * A failed attempt, under its lease: retried after retryDelayMs, or `failed` after
 * WEBHOOK_MAX_ATTEMPTS; and a webhook whose attempts have all failed for
 * DISABLE_AFTER_FAILING_MS is disabled, audited.
 */
async function recordFailure(
  db: DbOrTx,
  claimed: ClaimedDelivery,
  outcome: Extract<SendOutcome, { ok: false }>,
  now: number,
  settings: Pick<DeliverySettings, 'maxAttempts'>,
  random: () => number,
): Promise<DeliveryResult> {
  return db.transaction(async (tx) => {
    const at = new Date(now);
    const mine = and(eq(webhookDeliveries.id, claimed.id), eq(webhookDeliveries.leaseUntil, claimed.leaseUntil));
    const gaveUp = claimed.attempts >= settings.maxAttempts;
    const [row] = await tx
      .update(webhookDeliveries)
      .set({
        status: gaveUp ? 'failed' : 'pending',
        lastStatus: outcome.status,
        lastError: outcome.error.slice(0, 500),
        leaseUntil: null,
        nextAttemptAt: gaveUp ? null : new Date(now + retryDelayMs(claimed.attempts, random)),
        finishedAt: gaveUp ? at : null,
      })
      .where(mine)
      .returning({ id: webhookDeliveries.id });
    if (row === undefined) return 'lost_lease';
    const [webhook] = await tx
      .update(webhooks)
      .set({ failingSince: sql`coalesce(${webhooks.failingSince}, ${at.toISOString()}::timestamptz)` })
      .where(eq(webhooks.id, claimed.webhook.id))
      .returning();
    if (webhook?.enabled === true && webhook.failingSince !== null && now - webhook.failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) {
      await tx.update(webhooks).set({ enabled: false, updatedAt: at }).where(eq(webhooks.id, webhook.id));
      await recordChange(tx, {
        action: 'webhook.disabled',
        actor: SYSTEM_ACTOR,
        details: {
          webhook: webhook.id,
          url: webhook.url,
          reason: 'every delivery failed for 24 hours',
          failing_since: webhook.failingSince.toISOString(),
        },
      });
    }
    return gaveUp ? 'failed' : 'retry';
  });
}
