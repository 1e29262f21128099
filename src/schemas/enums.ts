/**
 * The closed sets of values Portier stores and shows, each defined once. The database
 * schema (src/db/schema.ts), the TypeBox schemas of the API, the code's types and, through
 * the OpenAPI document, the console's generated types all derive from these.
 */

/** How a client proves who it is at the token endpoint (a secret: HTTP Basic or the body). */
export const AUTH_METHODS = ['client_secret', 'private_key_jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** A client's status, derived from `enabled` and `expires_at` (see clients/rules.ts). */
export const CLIENT_STATUSES = ['active', 'disabled', 'expired'] as const;
export type ClientStatus = (typeof CLIENT_STATUSES)[number];

/**
 * A signing key's place in its life: `next` (published, not yet signing), `active` (the
 * one that signs), `retired` (published until its last token expires).
 */
export const KEY_STATUSES = ['next', 'active', 'retired'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** What a rotation leaves the key it made: signing now, or next. */
export type RotatedKeyStatus = Exclude<KeyStatus, 'retired'>;
export const ROTATED_KEY_STATUSES = ['active', 'next'] as const satisfies readonly RotatedKeyStatus[];

/** What a client over its token quota gets: refused (429), or the token and an audit event. */
export const QUOTA_MODES = ['enforce', 'log'] as const;
export type QuotaMode = (typeof QUOTA_MODES)[number];

/** What a failed call to the issuance hook means for the token: 503, or the token without the hook's claims. */
export const HOOK_FAILURE_MODES = ['deny', 'allow'] as const;

/** How usage is summed up: per UTC hour (the last 48) or per UTC day (the last 90). */
export const USAGE_GRANULARITIES = ['hour', 'day'] as const;
export type UsageGranularity = (typeof USAGE_GRANULARITIES)[number];
