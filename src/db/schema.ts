import { relations, sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { AUTH_METHODS, KEY_STATUSES, PERSON_ROLES, type QuotaMode } from '../schemas/enums.js';

/** PostgreSQL's 64-bit transaction id, read as its decimal text (it outgrows a JS number in theory). */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/** The catalogue of APIs a client can be granted: each has an audience and the scopes it knows. */
export const services = pgTable('services', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  description: text('description').notNull().default(''),
  audience: text('audience').notNull().unique(),
  scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
  builtIn: boolean('built_in').notNull().default(false),
  /** Created by a configuration apply, which may therefore delete it again (prune). */
  managed: boolean('managed').notNull().default(false),
  /** Operators (people with the operator role) may grant this service to their own clients. */
  selfService: boolean('self_service').notNull().default(false),
  /** Seconds a token for this service lives (60–86400); null: ACCESS_TOKEN_TTL. See policy/shapes.ts. */
  accessTokenTtl: integer('access_token_ttl'),
  /** Claims every token for this service carries (a client's own win on the same name). See policy/claims.ts. */
  claims: jsonb('claims').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
  /**
   * The roles operators may give their own clients granted this service (when it is
   * self-service). See clients/operator-limits.ts.
   */
  selfServiceRoles: text('self_service_roles').array().notNull().default(sql`'{}'::text[]`),
  /** The longest access_token_ttl operators may give their own clients granted it; null: none of their choosing. */
  selfServiceMaxAccessTokenTtl: integer('self_service_max_access_token_ttl'),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/**
 * An API client. `id` is the service-account user's id (the token `sub`): a fresh UUID per
 * row, so a client deleted and re-created under the same client_id is a different subject.
 * Delete is permanent (the row goes), which also frees the client_id.
 */
export const clients = pgTable(
  'clients',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientId: text('client_id').notNull().unique(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    owner: text('owner').notNull(),
    /** Who created it: the admin token's `sub`, a person's subject (`<issuer>#<sub>`), or `cli` / `bootstrap`. */
    createdBy: text('created_by').notNull(),
    /** How to show who created it: a person's name or email, an admin client's client_id; null for rows made before it was kept. */
    createdByName: text('created_by_name'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    authMethod: text('auth_method', { enum: AUTH_METHODS }).notNull().default('client_secret'),
    /** Public JWKS for private_key_jwt clients: registered here, or fetched from jwks_uri. */
    jwks: jsonb('jwks').$type<{ keys: Array<Record<string, unknown>> }>(),
    /** Where a private_key_jwt client publishes its public keys (https), instead of `jwks`. */
    jwksUri: text('jwks_uri'),
    /** Tokens for this client must be DPoP-bound (RFC 9449): a request without a proof is refused. */
    dpopBound: boolean('dpop_bound').notNull().default(false),
    /** Seconds this client's tokens live (60–86400), before any service's; null: inherit. */
    accessTokenTtl: integer('access_token_ttl'),
    /** Claims every token of this client carries, over its services' on the same name. */
    claims: jsonb('claims').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /**
     * `{per_hour, per_day, mode}` as the admin API shows it; null: the defaults of
     * TOKEN_QUOTA_PER_HOUR, TOKEN_QUOTA_PER_DAY and TOKEN_QUOTA_MODE. See policy/quota.ts.
     */
    tokenQuota: jsonb('token_quota').$type<{ per_hour: number | null; per_day: number | null; mode: QuotaMode }>(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    enabled: boolean('enabled').notNull().default(true),
    /** Created by a configuration apply, which may therefore delete it again (prune). */
    managed: boolean('managed').notNull().default(false),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    /**
     * For a token got with a platform's JWT (federated): which platform identity it was,
     * `{issuer, subject}` (the trusted issuer's id and the token's sub); null for a token got
     * otherwise. Written with last_used_at.
     */
    lastUsedIdentity: jsonb('last_used_identity').$type<{ issuer: string; subject: string }>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('clients_owner_idx').on(t.owner), index('clients_created_by_idx').on(t.createdBy)],
);

/**
 * A client's secrets, as argon2id hashes. Usually one; two during the grace period after a
 * regeneration, when the previous secret gets an `expires_at` and keeps working until then.
 */
export const clientSecrets = pgTable(
  'client_secrets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    hash: text('hash').notNull(),
    /**
     * Which of a client's two live secrets this one is: one bit of the secret's SHA-256
     * (secretSlot in clients/secrets.ts), so that a presented secret is checked against
     * one hash, not both. Null for secrets made before slots existed (filled in the first
     * time such a secret verifies).
     */
    slot: smallint('slot'),
    /**
     * The secret contains `+`. A client that skips the form-encoding of RFC 6749 §2.3.1 sends
     * it over HTTP Basic as is, and it is decoded to a space: a failed Basic secret with a
     * space is then worth a hint in the log (see oauth/client-auth/authenticate.ts). Known only
     * when the secret is stored (a hash tells nothing); generated secrets never have one.
     */
    containsPlus: boolean('contains_plus').notNull().default(false),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [index('client_secrets_client_idx').on(t.clientUuid), check('client_secrets_slot_bit', sql`${t.slot} IN (0, 1)`)],
);

/** Which services a client may get tokens for, and with which of the service's scopes. */
export const clientGrants = pgTable(
  'client_grants',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    serviceId: text('service_id')
      .notNull()
      .references(() => services.id, { onDelete: 'restrict', onUpdate: 'cascade' }),
    scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.serviceId] }), index('client_grants_service_idx').on(t.serviceId)],
);

/** Networks a client may call the token endpoint from; none means anywhere. */
export const clientIpRanges = pgTable(
  'client_ip_ranges',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    /** Normalised CIDR text, e.g. `192.0.2.0/24` or `2001:db8::/32`. */
    cidr: text('cidr').notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.cidr] })],
);

/**
 * Platforms whose JWTs a federated client may sign in with (Kubernetes, GitHub Actions,
 * SPIFFE…): the exact `iss` of their tokens, where their keys are (a jwks_uri, the issuer's
 * OpenID discovery document when both jwks_uri and jwks are null, or the keys themselves),
 * the audience their tokens must carry (null: Portier's ISSUER), how old a token may be and
 * the algorithms it may be signed with.
 */
export const trustedIssuers = pgTable(
  'trusted_issuers',
  {
    id: text('id').primaryKey(),
    issuer: text('issuer').notNull().unique(),
    jwksUri: text('jwks_uri'),
    jwks: jsonb('jwks').$type<{ keys: Array<Record<string, unknown>> }>(),
    audience: text('audience'),
    maxTokenAge: integer('max_token_age').notNull().default(3600),
    algorithms: text('algorithms').array().notNull(),
    /** Created by a configuration apply, which may therefore delete it again (prune). */
    managed: boolean('managed').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [check('trusted_issuers_max_token_age', sql`${t.maxTokenAge} BETWEEN 60 AND 86400`)],
);

/**
 * The platform identities a federated client signs in as: a trusted issuer, the exact
 * `sub` of its tokens, and claims the token must also carry. A trusted issuer cannot be
 * deleted while an identity names it. The index on (issuer, subject) is how a token
 * request without a client_id finds its client.
 */
export const clientFederatedIdentities = pgTable(
  'client_federated_identities',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    issuerId: text('issuer_id')
      .notNull()
      .references(() => trustedIssuers.id, { onDelete: 'restrict', onUpdate: 'cascade' }),
    subject: text('subject').notNull(),
    claims: jsonb('claims').$type<Record<string, string | number | boolean>>().notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [
    primaryKey({ columns: [t.clientUuid, t.issuerId, t.subject] }),
    index('client_federated_identities_subject_idx').on(t.issuerId, t.subject),
  ],
);

/**
 * Token signing keys. Exactly one is `active` (enforced by a partial unique index, which is
 * what makes two instances starting at once on an empty database end with one key), and at
 * most one is `next`: published in the JWKS, not yet signing, until `activates_at`, so
 * verifiers with a cached JWKS already know it when it starts to sign.
 * Retired keys stay published in the JWKS until every token they signed has expired.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    status: text('status', { enum: KEY_STATUSES }).notNull(),
    publicJwk: jsonb('public_jwk').notNull(),
    /** The private JWK as JSON, or its AES-256-GCM encryption (`v1.<iv>.<tag>.<ciphertext>`). */
    privateKey: text('private_key').notNull(),
    encrypted: boolean('encrypted').notNull(),
    createdAt: createdAt(),
    /** For a `next` key: when it takes over signing; for others, when it did (null if before this was recorded). */
    activatesAt: timestamp('activates_at', { withTimezone: true }),
    retiredAt: timestamp('retired_at', { withTimezone: true }),
    /** When a retired key may leave the JWKS: retirement + the longest token lifetime. */
    publishUntil: timestamp('publish_until', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('signing_keys_one_active').on(t.status).where(sql`${t.status} = 'active'`),
    uniqueIndex('signing_keys_one_next').on(t.status).where(sql`${t.status} = 'next'`),
  ],
);

/** Revoked access tokens (RFC 7009), kept until the token would have expired anyway (db/retention.ts). */
export const revokedTokens = pgTable(
  'revoked_tokens',
  {
    jti: text('jti').primaryKey(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('revoked_tokens_expires_idx').on(t.expiresAt)],
);

/**
 * JWT ids already seen, so that a client assertion (RFC 7523) or a DPoP proof (RFC 9449) is
 * accepted once across every instance: the primary key makes the second insert fail.
 * `scope` says whose ids they are (e.g. `client_assertion:<client_id>`, `dpop:<jkt>`); a row
 * can go once the JWT it stands for has expired.
 */
export const usedJwtIds = pgTable(
  'used_jwt_ids',
  {
    scope: text('scope').notNull(),
    jti: text('jti').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.jti] }), index('used_jwt_ids_expires_idx').on(t.expiresAt)],
);

/** Who did what to which client, and refused token requests with their real reason. */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    action: text('action').notNull(),
    /** The admin client's client_id (or `cli`, `bootstrap`), or the caller of the token endpoint. */
    actorClientId: text('actor_client_id'),
    /** The admin token's `sub`, or a person's subject (`<issuer>#<sub>`). */
    actorSub: text('actor_sub'),
    /** How to show who acted: a person's name or email, an admin client's client_id. */
    actorName: text('actor_name'),
    /** The client acted on; text, not a foreign key, so events outlive a deleted client. */
    clientId: text('client_id'),
    ip: text('ip'),
    details: jsonb('details').notNull().default(sql`'{}'::jsonb`),
    /** How many identical events this row stands for (throttled token denials). */
    count: integer('count').notNull().default(1),
    /**
     * The row as an event (events/cloud-events.ts): its CloudEvents `id`, which receivers
     * deduplicate on. Random, so that an id tells nothing about how many events there are.
     */
    eventId: uuid('event_id').notNull().defaultRandom(),
    /**
     * The transaction that wrote the row (pg_current_xact_id()). Events are served in
     * (tx_id, id) order and only from transactions older than every one still open, so a
     * cursor never moves past an event that commits later (events/list.ts).
     */
    txId: xid8('tx_id').notNull().default(sql`pg_current_xact_id()`),
  },
  (t) => [
    index('audit_events_client_idx').on(t.clientId, t.id),
    index('audit_events_action_idx').on(t.action, t.id),
    // Retention finds the events past AUDIT_RETENTION_DAYS by it (db/retention.ts).
    index('audit_events_at_idx').on(t.at),
    index('audit_events_tx_idx').on(t.txId, t.id),
    // Summaries of refused token requests list the client_ids they name (audit/denials.ts):
    // a client's history finds them through this.
    index('audit_events_named_clients_idx').using('gin', sql`(${t.details} -> 'client_ids')`),
    // One client.quota_exceeded per client and quota window, however many instances see
    // the client go over at once (policy/quota.ts writes it with ON CONFLICT DO NOTHING).
    uniqueIndex('audit_events_quota_window')
      .on(t.clientId, sql`(${t.details}->>'window')`, sql`(${t.details}->>'window_start')`)
      .where(sql`${t.action} = 'client.quota_exceeded'`),
  ],
);

/**
 * People signed in to the console (see people/sessions.ts). The browser holds a random
 * token; only its SHA-256 is stored, so the table cannot be turned back into cookies.
 * `last_seen_at` (the idle limit) and `expires_at` (the absolute limit) are on the app's
 * clock; rows past either are pruned.
 */
export const consoleSessions = pgTable(
  'console_sessions',
  {
    /** The session's public id, for GET and DELETE /admin/sessions. */
    id: uuid('id').primaryKey().defaultRandom(),
    tokenHash: text('token_hash').notNull().unique(),
    /** The person: `<issuer>#<sub>`, stable for as long as the provider keeps `sub`. */
    subject: text('subject').notNull(),
    name: text('name').notNull(),
    /** The value of OIDC_OWNER_CLAIM: whose clients an operator may see. */
    owner: text('owner').notNull(),
    role: text('role', { enum: PERSON_ROLES }).notNull(),
    /** For RP-initiated logout's id_token_hint; never shown. */
    idToken: text('id_token'),
    ip: text('ip'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('console_sessions_subject_idx').on(t.subject),
    index('console_sessions_expires_idx').on(t.expiresAt),
    index('console_sessions_last_seen_idx').on(t.lastSeenAt),
  ],
);

/**
 * Tokens issued and requests refused per client and UTC hour: the usage the admin API
 * shows (GET /admin/clients/{id}/usage). Each instance sums its counts in memory and adds
 * them here about once a minute (policy/usage.ts); rows older than the longest window
 * shown (90 days) are pruned.
 */
export const clientUsage = pgTable(
  'client_usage',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    hourStart: timestamp('hour_start', { withTimezone: true }).notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
    refusals: bigint('refusals', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.hourStart] }), index('client_usage_hour_idx').on(t.hourStart)],
);

/**
 * Tokens issued per client and UTC hour, for quotas: shared by every instance, each adding
 * what it issued at least once a second (policy/quota.ts). A day's count is the sum of its
 * hours. No foreign key: rows are kept two days at most, and a deleted client's are
 * simply never read again.
 */
export const quotaCounts = pgTable(
  'quota_counts',
  {
    clientUuid: uuid('client_uuid').notNull(),
    hourStart: timestamp('hour_start', { withTimezone: true }).notNull(),
    tokens: bigint('tokens', { mode: 'number' }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.hourStart] }), index('quota_counts_hour_idx').on(t.hourStart)],
);

/**
 * A single row whose `generation` goes up in the same transaction as every change that
 * affects token issuing (clients, secrets, grants, services, keys). Each instance polls it
 * and, when it moves, drops what the change made stale (cache_changes), which is how a
 * change made through one instance is in force on all of them within a second.
 */
export const cacheGeneration = pgTable('cache_generation', {
  id: integer('id').primaryKey().default(1),
  generation: bigint('generation', { mode: 'number' }).notNull().default(0),
});

/**
 * What each move of the cache generation made stale: a kind of cached object (`topic`:
 * clients, services, keys, …, or `all`) and which one (`key`, e.g. a client_id; null: all
 * of the topic). See db/generation.ts. Of use only until every instance has read it: pruned
 * after a day.
 */
export const cacheChanges = pgTable(
  'cache_changes',
  {
    generation: bigint('generation', { mode: 'number' }).notNull(),
    topic: text('topic').notNull(),
    key: text('key'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('cache_changes_generation_idx').on(t.generation), index('cache_changes_changed_at_idx').on(t.changedAt)],
);

/**
 * Values every instance must share and that no configuration holds, each made once by the
 * first instance to start (see db/settings.ts).
 */
export const settings = pgTable('settings', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
});

// Relations, so that the token endpoint loads a client with its secrets, grants (with
// their services) and IP ranges in a single query.
export const clientsRelations = relations(clients, ({ many }) => ({
  secrets: many(clientSecrets),
  grants: many(clientGrants),
  ipRanges: many(clientIpRanges),
  federatedIdentities: many(clientFederatedIdentities),
}));

export const clientSecretsRelations = relations(clientSecrets, ({ one }) => ({
  client: one(clients, { fields: [clientSecrets.clientUuid], references: [clients.id] }),
}));

export const clientGrantsRelations = relations(clientGrants, ({ one }) => ({
  client: one(clients, { fields: [clientGrants.clientUuid], references: [clients.id] }),
  service: one(services, { fields: [clientGrants.serviceId], references: [services.id] }),
}));

export const clientIpRangesRelations = relations(clientIpRanges, ({ one }) => ({
  client: one(clients, { fields: [clientIpRanges.clientUuid], references: [clients.id] }),
}));

export const clientFederatedIdentitiesRelations = relations(clientFederatedIdentities, ({ one }) => ({
  client: one(clients, { fields: [clientFederatedIdentities.clientUuid], references: [clients.id] }),
}));
