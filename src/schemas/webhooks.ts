import Type, { type Static } from 'typebox';
import { limitSchema, multilineText, nullable, stringEnum } from './common.js';

/** Patterns a webhook takes: an event type, a prefix ending in `*`, or `*` (the rule: events/types.ts). */
const typePattern = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^(\\*|dev\\.portier\\.([a-z0-9_]+\\.)*([a-z0-9_]+|\\*|[a-z0-9_]+\\*))$',
  description: 'An event type (`dev.portier.client.created`), a prefix ending in `*` (`dev.portier.client.*`), or `*`.',
});

export const WEBHOOK_MODES = ['structured', 'binary'] as const;

const webhookFields = {
  url: Type.String({
    minLength: 1,
    maxLength: 2048,
    pattern: '^https?://[\\u0021-\\u007e]+$',
    description: 'https (http only on loopback, with WEBHOOK_ALLOW_PRIVATE=true).',
  }),
  types: Type.Array(typePattern, { minItems: 1, maxItems: 50, uniqueItems: true }),
  enabled: Type.Boolean(),
  description: multilineText(2000),
  mode: stringEnum(WEBHOOK_MODES),
};

export const createWebhookBody = Type.Object(
  {
    url: webhookFields.url,
    types: Type.Optional(webhookFields.types),
    enabled: Type.Optional(webhookFields.enabled),
    description: Type.Optional(webhookFields.description),
    mode: Type.Optional(webhookFields.mode),
  },
  { additionalProperties: false },
);
export type CreateWebhookInput = Static<typeof createWebhookBody>;

export const updateWebhookBody = Type.Object(
  {
    url: Type.Optional(webhookFields.url),
    types: Type.Optional(webhookFields.types),
    enabled: Type.Optional(webhookFields.enabled),
    description: Type.Optional(webhookFields.description),
    mode: Type.Optional(webhookFields.mode),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateWebhookInput = Static<typeof updateWebhookBody>;

export const webhookResource = Type.Object({
  id: Type.String(),
  url: Type.String(),
  types: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  description: Type.String(),
  mode: stringEnum(WEBHOOK_MODES),
  failing_since: nullable(
    Type.String({ format: 'date-time', description: 'Since when every attempt has failed; a day of it disables the webhook.' }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type WebhookResource = Static<typeof webhookResource>;

export const webhookWithSecret = Type.Intersect([
  webhookResource,
  Type.Object({ secret: Type.String({ description: 'Signs the deliveries (Portier-Signature). Shown this once.' }) }),
]);

export const webhookList = Type.Object({ items: Type.Array(webhookResource) });
export const webhookSecret = Type.Object({
  secret: Type.String({ description: 'The new signing secret, shown this once; the old one stops at once.' }),
});

export const webhookParams = Type.Object({ id: Type.String({ format: 'uuid', maxLength: 36 }) }, { additionalProperties: false });
export const deliveryParams = Type.Object(
  { id: Type.String({ format: 'uuid', maxLength: 36 }), delivery_id: Type.String({ pattern: '^\\d{1,18}$' }) },
  { additionalProperties: false },
);

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export const deliveryResource = Type.Object({
  id: Type.String(),
  event_id: Type.String({ description: 'The CloudEvent id (Portier-Delivery names the delivery, this the event).' }),
  type: Type.String(),
  status: stringEnum(DELIVERY_STATUSES),
  attempts: Type.Integer(),
  last_status: nullable(Type.Integer({ description: "The receiver's last HTTP status; null: no answer." })),
  last_error: nullable(Type.String()),
  next_attempt_at: nullable(Type.String({ format: 'date-time' })),
  created_at: Type.String({ format: 'date-time' }),
  finished_at: nullable(Type.String({ format: 'date-time' })),
});
export type DeliveryResource = Static<typeof deliveryResource>;

export const deliveriesQuery = Type.Object(
  { limit: Type.Optional(limitSchema), cursor: Type.Optional(Type.String({ maxLength: 20 })) },
  { additionalProperties: false },
);
export const deliveryPage = Type.Object({ items: Type.Array(deliveryResource), next_cursor: nullable(Type.String()) });
