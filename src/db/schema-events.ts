import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { auditEvents } from './schema.js';

// The tables of events (src/events/), beside schema.ts's (drizzle.config.ts names both).

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/**
 * Where events are delivered (events/webhooks.ts): an HTTPS endpoint of the organisation's,
 * the event types it wants (`dev.portier.client.created`, or a prefix such as
 * `dev.portier.client.*`, or `*`), and the secret its deliveries are signed with, sealed
 * under KEY_ENCRYPTION_KEY when that is set.
 */
export const webhooks = pgTable('webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  types: text('types').array().notNull(),
  enabled: boolean('enabled').notNull().default(true),
  description: text('description').notNull().default(''),
  /** `structured` (the whole CloudEvent as the JSON body) or `binary` (`ce-*` headers, `data` as the body). */
  mode: text('mode', { enum: ['structured', 'binary'] })
    .notNull()
    .default('structured'),
  secret: text('secret').notNull(),
  secretEncrypted: boolean('secret_encrypted').notNull().default(false),
  /** Since when every attempt has failed; null while the last one succeeded. A day of it disables the webhook. */
  failingSince: timestamp('failing_since', { withTimezone: true }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * One event to deliver to one webhook (events/deliveries.ts). Made by a trigger on
 * audit_events in the transaction that writes the event (migration 0017), so that a
 * committed event always has its deliveries and a rolled-back one has none. A webhook's
 * deliveries go out one at a time in `id` order; a worker of any instance claims the
 * first pending one with FOR UPDATE SKIP LOCKED and holds it by `lease_until` while it
 * sends, so that an instance killed mid-delivery leaves it to another once the lease ends.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    auditEventId: bigint('audit_event_id', { mode: 'number' })
      .notNull()
      .references(() => auditEvents.id, { onDelete: 'cascade' }),
    /** `pending`, `delivered`, or `failed` after WEBHOOK_MAX_ATTEMPTS. */
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    /** Not before this (the backoff after a failed attempt); null: at once. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    /** A worker is sending it until then; past it, the attempt counts as lost and another may send it. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('webhook_deliveries_pending_idx').on(t.webhookId, t.id).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.id),
    index('webhook_deliveries_event_idx').on(t.auditEventId),
  ],
);

/**
 * The notices already given (events/notices.ts), one row each, so that each is given once
 * however many instances run the check and however often: its key names the notice, the
 * client or credential and what it was about (the expiry date, the last use, the limit), e.g.
 * `credential.expiring:<client uuid>:<expires_at>:7`, `credential.over_policy:<credential id>:90`.
 */
export const noticesGiven = pgTable('notices_given', {
  key: text('key').primaryKey(),
  givenAt: timestamp('given_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * An email notice to a client's owner (events/mail.ts), written with the notice's event in
 * one transaction, and sent by any instance's mail worker as deliveries are: claimed with
 * SKIP LOCKED, leased, retried with backoff.
 */
export const emailDeliveries = pgTable(
  'email_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    auditEventId: bigint('audit_event_id', { mode: 'number' })
      .notNull()
      .references(() => auditEvents.id, { onDelete: 'cascade' }),
    recipient: text('recipient').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    lastError: text('last_error'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('email_deliveries_pending_idx').on(t.id).where(sql`${t.status} = 'pending'`)],
);
