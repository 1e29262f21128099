import { isIP } from 'node:net';
import { desc, eq } from 'drizzle-orm';
import { type Actor, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { webhooks } from '../db/schema-events.js';
import { decryptAtRest, randomBase64Url, sealAtRest } from '../lib/crypto.js';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { resolveAll } from '../lib/fence.js';
import { isPublicAddress } from '../lib/networks.js';
import type { CreateWebhookInput, UpdateWebhookInput, WebhookResource } from '../schemas/webhooks.js';

/**
 * Webhooks: where events are delivered, signed (events/deliveries.ts). Plain functions for
 * the admin API; each change is audited, and so is itself an event.
 */

/** What the rules of a webhook need from the configuration. */
export interface WebhookSettings {
  /** WEBHOOK_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  /** KEY_ENCRYPTION_KEY: seals the signing secrets at rest when set. */
  keyEncryptionKey: Buffer | undefined;
}

type WebhookRow = typeof webhooks.$inferSelect;

const LOOPBACK_NAMES = new Set(['localhost']);

function isLoopbackHost(host: string): boolean {
  if (LOOPBACK_NAMES.has(host.toLowerCase())) return true;
  return isIP(host) !== 0 && /^(127\.|::1$|::ffff:127\.)/.test(host);
}

/**
 * Why `input` may not be a webhook's URL, or undefined. https; http only on loopback (a
 * receiver beside Portier: then WEBHOOK_ALLOW_PRIVATE is needed, as for any non-public
 * address); no user name or password in it (they would be shown in every list); unless
 * private addresses are allowed, the host must resolve to public addresses only. The
 * delivery checks the address again when it connects (events/deliveries.ts), so a DNS
 * answer that changes later gains nothing.
 */
export async function webhookUrlProblem(input: string, allowPrivate: boolean): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'is not a URL';
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(host))) return 'must be https (http only on loopback)';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password';
  if (url.hash !== '') return 'must not have a fragment';
  if (allowPrivate) return undefined;
  if (isIP(host) !== 0) return isPublicAddress(host) ? undefined : `names a non-public address (${host}); see WEBHOOK_ALLOW_PRIVATE`;
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolveAll(host);
  } catch {
    return `host ${host} does not resolve`;
  }
  const refused = addresses.find((entry) => !isPublicAddress(entry.address));
  return refused === undefined ? undefined : `host resolves to a non-public address (${refused.address}); see WEBHOOK_ALLOW_PRIVATE`;
}

async function checkUrl(input: string, settings: WebhookSettings): Promise<void> {
  const problem = await webhookUrlProblem(input, settings.allowPrivate);
  if (problem !== undefined) throw new ValidationError([{ path: '/url', message: problem }]);
}

/** What an envelope of a webhook's secret is bound to: its row, so a sealed secret copied to another row does not open. */
function boundTo(id: string): string {
  return `portier:webhook-secret:${id}`;
}

function newSecret(): string {
  return `whsec_${randomBase64Url(32)}`;
}

function storedSecret(settings: WebhookSettings, id: string, secret: string): { secret: string; secretEncrypted: boolean } {
  if (settings.keyEncryptionKey === undefined) return { secret, secretEncrypted: false };
  return { secret: sealAtRest(settings.keyEncryptionKey, secret, boundTo(id)), secretEncrypted: true };
}

/** The signing secret of a stored webhook; throws when it is sealed and KEY_ENCRYPTION_KEY is not the key it was sealed with. */
export function webhookSecret(row: Pick<WebhookRow, 'id' | 'secret' | 'secretEncrypted'>, keyEncryptionKey: Buffer | undefined): string {
  if (!row.secretEncrypted) return row.secret;
  if (keyEncryptionKey === undefined) throw new Error(`webhook ${row.id}'s secret is sealed; set KEY_ENCRYPTION_KEY`);
  return decryptAtRest(keyEncryptionKey, row.secret, boundTo(row.id));
}

export function webhookResource(row: WebhookRow): WebhookResource {
  return {
    id: row.id,
    url: row.url,
    types: row.types,
    enabled: row.enabled,
    description: row.description,
    mode: row.mode,
    failing_since: row.failingSince?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** What the audit trail records of a webhook: never its secret. */
function audited(row: WebhookRow): Record<string, unknown> {
  return { webhook: row.id, url: row.url, types: row.types, enabled: row.enabled, mode: row.mode };
}

export async function createWebhook(
  db: DbOrTx,
  input: CreateWebhookInput,
  actor: Actor,
  settings: WebhookSettings,
): Promise<WebhookResource & { secret: string }> {
  await checkUrl(input.url, settings);
  const id = crypto.randomUUID();
  const secret = newSecret();
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(webhooks)
      .values({
        id,
        url: input.url,
        types: input.types ?? ['*'],
        enabled: input.enabled ?? true,
        description: input.description ?? '',
        mode: input.mode ?? 'structured',
        ...storedSecret(settings, id, secret),
      })
      .returning();
    if (row === undefined) throw new Error('insert returned no row');
    await recordChange(tx, { action: 'webhook.created', actor, details: audited(row) });
    return { ...webhookResource(row), secret };
  });
}

export async function listWebhooks(db: DbOrTx): Promise<WebhookResource[]> {
  const rows = await db.select().from(webhooks).orderBy(desc(webhooks.createdAt));
  return rows.map(webhookResource);
}

export async function getWebhook(db: DbOrTx, id: string): Promise<WebhookResource> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  if (row === undefined) throw new NotFoundError(`webhook ${id} not found`);
  return webhookResource(row);
}

export async function updateWebhook(
  db: DbOrTx,
  id: string,
  input: UpdateWebhookInput,
  actor: Actor,
  settings: WebhookSettings,
): Promise<WebhookResource> {
  if (input.url !== undefined) await checkUrl(input.url, settings);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(webhooks)
      .set({
        ...(input.url !== undefined && { url: input.url }),
        ...(input.types !== undefined && { types: input.types }),
        ...(input.description !== undefined && { description: input.description }),
        ...(input.mode !== undefined && { mode: input.mode }),
        // Enabled again by hand: its failing streak starts over.
        ...(input.enabled !== undefined && { enabled: input.enabled, ...(input.enabled && { failingSince: null }) }),
        updatedAt: new Date(),
      })
      .where(eq(webhooks.id, id))
      .returning();
    if (row === undefined) throw new NotFoundError(`webhook ${id} not found`);
    await recordChange(tx, { action: 'webhook.updated', actor, details: { ...audited(row), changes: Object.keys(input).sort() } });
    return webhookResource(row);
  });
}

/** Deletes the webhook and its deliveries (pending ones are never sent). */
export async function deleteWebhook(db: DbOrTx, id: string, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx.delete(webhooks).where(eq(webhooks.id, id)).returning();
    if (row === undefined) throw new NotFoundError(`webhook ${id} not found`);
    await recordChange(tx, { action: 'webhook.deleted', actor, details: audited(row) });
  });
}

/** A new signing secret, shown once; the old one signs nothing from now on. */
export async function regenerateWebhookSecret(
  db: DbOrTx,
  id: string,
  actor: Actor,
  settings: WebhookSettings,
): Promise<{ secret: string }> {
  const secret = newSecret();
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(webhooks)
      .set({ ...storedSecret(settings, id, secret), updatedAt: new Date() })
      .where(eq(webhooks.id, id))
      .returning();
    if (row === undefined) throw new NotFoundError(`webhook ${id} not found`);
    await recordChange(tx, { action: 'webhook.secret_regenerated', actor, details: { webhook: id } });
  });
  return { secret };
}
