import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { KEY_STATUSES, PERSON_ROLES } from '../schemas/enums.js';

// The tables that stand beside the clients rather than describe them: signing keys, what the
// token path remembers (revoked tokens, JWT ids seen, quota counts), console sessions, the
// caches' change log and settings. schema.ts re-exports them, so that they are part of the
// one schema Drizzle is given (db/connect.ts) and that drizzle-kit reads.

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

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
