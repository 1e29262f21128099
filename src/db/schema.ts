import { relations, sql } from 'drizzle-orm';
import {
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
import { traceContext } from '../lib/trace-context.js';
import { AUTH_METHODS, CREDENTIAL_KINDS, CREDENTIAL_REVOCATION_REASONS, type QuotaMode, TLS_IDENTITY_KINDS } from '../schemas/enums.js';

export * from './schema-state.js';

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
  /**
   * The longest a credential of a client granted this service may live, in days (1–3650);
   * null: no limit of its own. With CREDENTIAL_MAX_LIFETIME_DAYS, the smallest that applies
   * to a client wins (see clients/credentials.ts).
   */
  credentialMaxLifetimeDays: integer('credential_max_lifetime_days'),
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
    /** Where a private_key_jwt client publishes its public keys (https), instead of registering them as credentials. */
    jwksUri: text('jwks_uri'),
    /** Tokens for this client must be DPoP-bound (RFC 9449): a request without a proof is refused. */
    dpopBound: boolean('dpop_bound').notNull().default(false),
    /**
     * Tokens for this client are bound to its TLS client certificate (RFC 8705 §3,
     * `tls_client_certificate_bound_access_tokens`): a request without one is refused.
     */
    certificateBound: boolean('certificate_bound').notNull().default(false),
    /** Seconds this client's tokens live (60–86400), before any service's; null: inherit. */
    accessTokenTtl: integer('access_token_ttl'),
    /** Claims every token of this client carries, over its services' on the same name. */
    claims: jsonb('claims').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /**
     * `{per_hour, per_day, mode}` as the admin API shows it; null: the defaults of
     * TOKEN_QUOTA_PER_HOUR, TOKEN_QUOTA_PER_DAY and TOKEN_QUOTA_MODE. See policy/quota.ts.
     */
    tokenQuota: jsonb('token_quota').$type<{ per_hour: number | null; per_day: number | null; mode: QuotaMode }>(),
    /**
     * RFC 8693 §4.4: the client_ids that may act for this client in a token exchange; its
     * tokens carry them as `may_act`. Null: no `may_act` (any actor the grants allow).
     */
    mayAct: text('may_act').array(),
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
 * A client's credentials, each a record of its own: its secrets (argon2id hashes) and, for a
 * private_key_jwt client, its registered public keys. A client holds at most
 * MAX_CREDENTIALS_PER_CLIENT live ones (see clients/credentials.ts).
 *
 * The shape other parts build on: `id` (`cred_…`, public, stable), `client_uuid`, `kind`,
 * `description`, `created_at`, `created_by` / `created_by_name` (as for clients),
 * `expires_at` (null: never), `last_used_at` (written in batches, as the client's), and the
 * revoked state: `revoked_at` with `revoked_reason` (`removed`: deleted through the API,
 * `leaked`: reported by a secret scanner). A credential is live while it is not revoked and
 * not expired. Revoked rows are kept (so that a refusal of one costs what a wrong secret
 * costs, see oauth/client-auth/authenticate.ts) until retention prunes them.
 */
export const clientCredentials = pgTable(
  'client_credentials',
  {
    /** `cred_` and 16 letters or digits; for a secret of the self-identifying form, also part of the secret. */
    id: text('id').primaryKey(),
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: CREDENTIAL_KINDS }).notNull(),
    description: text('description').notNull().default(''),
    /** kind secret: its argon2id hash. */
    hash: text('hash'),
    /**
     * kind secret: the secret names this credential (`<prefix>_<id>_<random>_<checksum>`, see
     * clients/secrets.ts), so a presented one is checked against this hash alone. False for
     * secrets made before that form (and BOOTSTRAP_ADMIN_CLIENT_SECRET), which are found by slot.
     */
    selfIdentifying: boolean('self_identifying').notNull().default(false),
    /**
     * kind secret, not self-identifying: one bit of the secret's SHA-256 (secretSlot in
     * clients/secrets.ts), so a presented secret is checked against one such hash, not two.
     * Null when not known yet (filled in the first time such a secret verifies).
     */
    slot: smallint('slot'),
    /** kind secret: the secret contains `+` (see oauth/client-auth/authenticate.ts). */
    containsPlus: boolean('contains_plus').notNull().default(false),
    /** kind public_key: the public JWK (kid, alg and thumbprint are read from it). */
    jwk: jsonb('jwk').$type<Record<string, unknown>>(),
    /**
     * kind public_key: the key's RFC 7638 SHA-256 thumbprint, by which a certificate's key
     * finds its self_signed_tls_client_auth client (RFC 8705 §2.2) without a client_id.
     */
    thumbprint: text('thumbprint'),
    createdAt: createdAt(),
    /** Who added it: the admin token's `sub`, a person's subject, or `cli` / `bootstrap` / `migration`. */
    createdBy: text('created_by').notNull(),
    createdByName: text('created_by_name'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokedReason: text('revoked_reason', { enum: CREDENTIAL_REVOCATION_REASONS }),
  },
  (t) => [
    index('client_credentials_client_idx').on(t.clientUuid),
    index('client_credentials_thumbprint_idx').on(t.thumbprint),
    check('client_credentials_slot_bit', sql`${t.slot} IN (0, 1)`),
    check('client_credentials_id_form', sql`${t.id} ~ '^cred_[0-9A-Za-z]{16}$'`),
    check(
      'client_credentials_kind_fields',
      sql`(${t.kind} = 'secret' AND ${t.hash} IS NOT NULL AND ${t.jwk} IS NULL) OR (${t.kind} = 'public_key' AND ${t.jwk} IS NOT NULL AND ${t.hash} IS NULL)`,
    ),
    check('client_credentials_revoked', sql`(${t.revokedAt} IS NULL) = (${t.revokedReason} IS NULL)`),
  ],
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
    /**
     * Token exchange (RFC 8693): `{subjects: [...], actors?: [...]}`, whom this client may
     * act for when it gets tokens for this service (client_ids, `issuer:<trusted issuer
     * id>`, `*`), and the other clients whose tokens it may present as the actor_token. Null:
     * it may not exchange for this service.
     */
    exchange: jsonb('exchange').$type<{ subjects: string[]; actors?: string[] }>(),
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
    /** Its tokens may be the subject token of a token exchange (RFC 8693). */
    tokenExchange: boolean('token_exchange').notNull().default(false),
    /** Its tokens may be the assertion of the JWT bearer grant (RFC 7523 §2.1). */
    jwtBearer: boolean('jwt_bearer').notNull().default(false),
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
 * What a TLS client certificate must show for a client to authenticate with it (RFC 8705):
 * for tls_client_auth exactly one row, the subject DN or a subject alternative name; for
 * self_signed_tls_client_auth one row per registered public key (its RFC 7638 thumbprint).
 * `value` is what the admin registered, `match_key` its comparison form (see
 * clients/certificates.ts); the index on (kind, match_key) is how a token request without a
 * client_id finds its client from the certificate.
 */
export const clientTlsIdentities = pgTable(
  'client_tls_identities',
  {
    clientUuid: uuid('client_uuid')
      .notNull()
      .references(() => clients.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: TLS_IDENTITY_KINDS }).notNull(),
    value: text('value').notNull(),
    matchKey: text('match_key').notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientUuid, t.kind, t.matchKey] }), index('client_tls_identities_match_idx').on(t.kind, t.matchKey)],
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
    /**
     * The W3C traceparent of the span that wrote the row, when tracing is on (set here, in
     * the row's own insert, whoever writes it): the event's deliveries carry it onwards, so
     * a receiver's work joins the trace of the change (events/deliveries.ts).
     */
    traceparent: text('traceparent').$defaultFn(() => traceContext().traceparentNow() ?? sql`null`),
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

// Relations, so that the token endpoint loads a client with its secrets, grants (with
// their services) and IP ranges in a single query.
export const clientsRelations = relations(clients, ({ many }) => ({
  credentials: many(clientCredentials),
  grants: many(clientGrants),
  ipRanges: many(clientIpRanges),
  federatedIdentities: many(clientFederatedIdentities),
  tlsIdentities: many(clientTlsIdentities),
}));

export const clientTlsIdentitiesRelations = relations(clientTlsIdentities, ({ one }) => ({
  client: one(clients, { fields: [clientTlsIdentities.clientUuid], references: [clients.id] }),
}));

export const clientCredentialsRelations = relations(clientCredentials, ({ one }) => ({
  client: one(clients, { fields: [clientCredentials.clientUuid], references: [clients.id] }),
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
