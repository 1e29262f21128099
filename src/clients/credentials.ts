import { createPublicKey, X509Certificate } from 'node:crypto';
import { and, asc, eq, gt, isNull, ne, or, sql } from 'drizzle-orm';
import type { JWK } from 'jose';
import { ALL_CLIENTS, type ClientVisibility as ClientScope, reaches } from '../access/visibility.js';
import { type Actor, recordChange } from '../audit/events.js';
import type { Config } from '../config.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { clientCredentials, clients } from '../db/schema.js';
import { ConflictError, type FieldError, NotFoundError, ValidationError } from '../lib/errors.js';
import type { CredentialResource, LeakedToken, LeakedTokenResult, NewCredentialInput } from '../schemas/credentials.js';
import { checkExpiry } from './clients.js';
import { DAY_MS, maxLifetimeDays, newCredentialExpiry } from './credential-limits.js';
import { publicKeyRows, secretRow } from './credential-rows.js';
import { checkPublicJwks, jwkThumbprint } from './public-keys.js';
import { type NewSecret, newSecret, readPresentedSecret, verifySecret } from './secrets.js';

/**
 * A client's credentials as records of their own (client_credentials in db/schema.ts): the
 * rules for listing, adding and removing them, which the admin API, the console and the CLI
 * share. Every change is one transaction with its audit event (naming the credential id)
 * and a move of the cache generation, so it is in force on every instance within a second.
 */

/** What bounds a client's credentials (from the configuration). */
export interface CredentialSettings {
  /** MAX_CREDENTIALS_PER_CLIENT: live credentials a client may hold at once. */
  maxPerClient: number;
  /** SECRET_PREFIX: how new secrets start. */
  secretPrefix: string;
  /** CREDENTIAL_MAX_LIFETIME_DAYS; undefined: no limit but the services'. */
  maxLifetimeDays?: number | undefined;
}

/** The credential settings of a configuration: the one place that names the variables behind them. */
export function credentialSettings(
  config: Pick<Config, 'maxCredentialsPerClient' | 'secretPrefix' | 'credentialMaxLifetimeDays'>,
): CredentialSettings {
  return {
    maxPerClient: config.maxCredentialsPerClient,
    secretPrefix: config.secretPrefix,
    maxLifetimeDays: config.credentialMaxLifetimeDays,
  };
}

/** Whether a credential lives longer than the limit now set (made before it): still working, reported. */
export function overPolicy(row: Pick<CredentialRow, 'createdAt' | 'expiresAt'>, limitDays: number | undefined): boolean {
  if (limitDays === undefined) return false;
  return row.expiresAt === null || row.expiresAt.getTime() > row.createdAt.getTime() + limitDays * DAY_MS;
}

export { maxLifetimeDays };

export type CredentialRow = typeof clientCredentials.$inferSelect;

/** Whether a credential can be used now: not revoked, not expired. */
export function isLive(row: Pick<CredentialRow, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return row.revokedAt === null && (row.expiresAt === null || row.expiresAt.getTime() > now);
}

/** A credential as the admin API shows it: never a hash, never a secret. */
export function toCredentialResource(row: CredentialRow, now: number, limitDays?: number): CredentialResource {
  const jwk = row.kind === 'public_key' && row.jwk !== null ? (row.jwk as JWK) : undefined;
  const thumbprint = jwk === undefined ? undefined : jwkThumbprint(jwk);
  return {
    id: row.id,
    kind: row.kind,
    description: row.description,
    created_at: row.createdAt.toISOString(),
    created_by: row.createdBy,
    created_by_name: row.createdByName,
    expires_at: row.expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    status: row.revokedAt !== null ? 'revoked' : isLive(row, now) ? 'active' : 'expired',
    revoked_at: row.revokedAt?.toISOString() ?? null,
    revoked_reason: row.revokedReason,
    over_policy: overPolicy(row, limitDays),
    ...(jwk !== undefined && {
      kid: typeof jwk.kid === 'string' ? jwk.kid : null,
      alg: typeof jwk.alg === 'string' ? jwk.alg : null,
      jwk,
    }),
    ...(thumbprint !== undefined && { thumbprint }),
  };
}

/**
 * Loads the client row for a change, locking it until the transaction ends, so that two
 * changes of one client's credentials take turns (two parallel adds past the maximum: the
 * second counts the first). A client outside `scope` is not found, as one that does not exist.
 */
export async function lockClientRow(tx: DbOrTx, clientId: string, scope: ClientScope) {
  const [row] = await tx.select().from(clients).where(eq(clients.clientId, clientId)).for('update');
  if (row === undefined || !reaches(scope, row.owner)) throw new NotFoundError(`no client with client_id "${clientId}"`);
  return row;
}

/** A client's credentials, oldest first: live, expired and leaked ones (removed ones are gone from the list). */
export async function listCredentials(
  db: DbOrTx,
  clientId: string,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
  settings: Pick<CredentialSettings, 'maxLifetimeDays'> = {},
): Promise<CredentialResource[]> {
  const [client] = await db.select({ id: clients.id, owner: clients.owner }).from(clients).where(eq(clients.clientId, clientId));
  if (client === undefined || !reaches(scope, client.owner)) throw new NotFoundError(`no client with client_id "${clientId}"`);
  const rows = await db
    .select()
    .from(clientCredentials)
    .where(
      and(
        eq(clientCredentials.clientUuid, client.id),
        or(isNull(clientCredentials.revokedReason), ne(clientCredentials.revokedReason, 'removed')),
      ),
    )
    .orderBy(asc(clientCredentials.createdAt), asc(clientCredentials.id));
  const limit = await maxLifetimeDays(db, client.id, settings);
  return rows.map((row) => toCredentialResource(row, now, limit));
}

/** The live credentials of a client (in a transaction that holds its lock), least recently used first. */
async function liveCredentials(tx: DbOrTx, clientUuid: string, now: number): Promise<CredentialRow[]> {
  return tx
    .select()
    .from(clientCredentials)
    .where(
      and(
        eq(clientCredentials.clientUuid, clientUuid),
        isNull(clientCredentials.revokedAt),
        or(isNull(clientCredentials.expiresAt), gt(clientCredentials.expiresAt, new Date(now))),
      ),
    )
    .orderBy(sql`${clientCredentials.lastUsedAt} ASC NULLS FIRST`, asc(clientCredentials.createdAt));
}

/**
 * Refuses one more credential when the client holds `settings.maxPerClient` live ones
 * already (409), naming the one to remove first: the least recently used.
 */
export async function ensureRoomForOneMore(
  tx: DbOrTx,
  client: { id: string; clientId: string },
  now: number,
  settings: CredentialSettings,
): Promise<void> {
  const live = await liveCredentials(tx, client.id, now);
  if (live.length < settings.maxPerClient) return;
  const candidate = live[0];
  const used = candidate?.lastUsedAt === null ? 'never used' : `last used ${candidate?.lastUsedAt?.toISOString()}`;
  throw new ConflictError(
    `client "${client.clientId}" already has ${live.length} live credentials, the most MAX_CREDENTIALS_PER_CLIENT allows: ` +
      `remove one first (the least recently used is ${candidate?.id}, ${used})`,
    { credentials: live.map((row) => row.id) },
  );
}

/**
 * A public key given as a JWK, a PEM public key (SPKI) or a PEM X.509 certificate (whose key
 * is used), as it is stored; records a field error for what is not one. A private key is
 * refused, whatever its form: nothing of it is kept.
 */
export async function publicKeyOf(input: { jwk?: Record<string, unknown> | undefined; pem?: string | undefined }, errors: FieldError[]) {
  if ((input.jwk === undefined) === (input.pem === undefined)) {
    errors.push({ path: '/jwk', message: 'a public_key credential takes exactly one of jwk and pem' });
    return undefined;
  }
  let jwk: Record<string, unknown>;
  let path = '/jwk';
  if (input.pem !== undefined) {
    path = '/pem';
    const pem = input.pem.trim();
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      errors.push({ path, message: 'must be a public key or a certificate: a private key is refused' });
      return undefined;
    }
    try {
      if (pem.startsWith('-----BEGIN CERTIFICATE-----')) jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
      else if (pem.startsWith('-----BEGIN PUBLIC KEY-----')) jwk = createPublicKey({ key: pem, format: 'pem' }).export({ format: 'jwk' });
      else throw new Error('not a PEM public key or certificate');
    } catch {
      errors.push({ path, message: 'must be a PEM public key (BEGIN PUBLIC KEY) or X.509 certificate (BEGIN CERTIFICATE)' });
      return undefined;
    }
  } else {
    jwk = input.jwk as Record<string, unknown>;
  }
  const found: FieldError[] = [];
  const { keys } = await checkPublicJwks({ keys: [jwk] }, '', found);
  // checkPublicJwks names the key by its place in a set; here there is one, at `path`.
  for (const error of found) errors.push({ path, message: error.message });
  return keys[0];
}

/**
 * Adds a credential to a client: a new secret (returned this once, never stored) or a
 * public key (a private_key_jwt client registering its keys, not one with a jwks_uri).
 * Within MAX_CREDENTIALS_PER_CLIENT live ones (409 beyond it); a key the client has already
 * (not removed, its JWK thumbprint the same) is 409 naming that credential.
 */
export async function addCredential(
  db: Db,
  clientId: string,
  input: NewCredentialInput,
  actor: Actor,
  now: number,
  settings: CredentialSettings,
  scope: ClientScope = ALL_CLIENTS,
): Promise<{ credential: CredentialResource; secret: string | undefined }> {
  const errors: FieldError[] = [];
  const requestedExpiry = checkExpiry(input.expires_at, errors, now);
  const key = input.kind === 'public_key' ? await publicKeyOf(input, errors) : undefined;
  if (input.kind === 'secret' && (input.jwk !== undefined || input.pem !== undefined)) {
    errors.push({ path: input.jwk !== undefined ? '/jwk' : '/pem', message: 'only a public_key credential takes a key' });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  // Hashed before the transaction (milliseconds of CPU).
  const secret: NewSecret | undefined = input.kind === 'secret' ? await newSecret(settings.secretPrefix) : undefined;
  const row = await db.transaction(async (tx) => {
    const client = await lockClientRow(tx, clientId, scope);
    // A self-signed certificate client's keys are public-key credentials too (RFC 8705 §2.2).
    const wanted = input.kind === 'secret' ? ['client_secret'] : ['private_key_jwt', 'self_signed_tls_client_auth'];
    if (!wanted.includes(client.authMethod)) {
      throw new ConflictError(`client "${clientId}" authenticates with ${client.authMethod}: it takes no ${input.kind} credential`);
    }
    if (input.kind === 'public_key' && client.jwksUri !== null) {
      throw new ConflictError(`client "${clientId}" publishes its keys at its jwks_uri: remove the jwks_uri to register keys here`);
    }
    if (key !== undefined) await ensureNewKey(tx, client, key);
    await ensureRoomForOneMore(tx, client, now, settings);
    const { expiresAt, limitDays } = await newCredentialExpiry(tx, client.id, now, settings, requestedExpiry);
    const details = { expiresAt, description: input.description };
    // The secret's row, or the key's: a public_key credential has its key (or was a 400 above).
    const rows =
      secret !== undefined ? [secretRow(client.id, secret, actor, details)] : publicKeyRows(client.id, key ? [key] : [], actor, details);
    const [inserted] = await tx.insert(clientCredentials).values(rows).returning();
    if (inserted === undefined) throw new Error('credential not stored');
    await tx.update(clients).set({ updatedAt: sql`now()` }).where(eq(clients.id, client.id));
    await recordChange(tx, {
      action: 'credential.added',
      actor,
      clientId,
      details: { credential_id: inserted.id, kind: input.kind, expires_at: expiresAt?.toISOString() ?? null },
    });
    return { inserted, limitDays };
  });
  return { credential: toCredentialResource(row.inserted, now, row.limitDays), secret: secret?.secret };
}

/**
 * Refuses a key the client has already (409 naming its credential): the same key again, by
 * its JWK thumbprint whatever its kid, alg or use, would spend a second credential on it. An
 * expired one counts (it is still registered, and listed); a removed one does not.
 */
async function ensureNewKey(tx: DbOrTx, client: { id: string; clientId: string }, key: JWK): Promise<void> {
  const thumbprint = jwkThumbprint(key);
  if (thumbprint === undefined) return;
  const [same] = await tx
    .select({ id: clientCredentials.id })
    .from(clientCredentials)
    .where(
      and(
        eq(clientCredentials.clientUuid, client.id),
        eq(clientCredentials.kind, 'public_key'),
        eq(clientCredentials.thumbprint, thumbprint),
        isNull(clientCredentials.revokedAt),
      ),
    );
  if (same === undefined) return;
  throw new ConflictError(
    `client "${client.clientId}" has this key already, as credential ${same.id} (the same JWK thumbprint): ` +
      'remove that one first to register the key again',
    { credentials: [same.id] },
  );
}

/**
 * Removes a credential at once: it is revoked (reason `removed`), refused from the next
 * request on (on every instance within a second), and no longer listed; the row stays until
 * retention prunes it, so that a secret of it costs what a wrong secret costs.
 */
export async function removeCredential(
  db: Db,
  clientId: string,
  credentialId: string,
  actor: Actor,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<void> {
  await db.transaction(async (tx) => {
    const client = await lockClientRow(tx, clientId, scope);
    const [removed] = await tx
      .update(clientCredentials)
      .set({ revokedAt: new Date(now), revokedReason: 'removed' })
      .where(
        and(
          eq(clientCredentials.id, credentialId),
          eq(clientCredentials.clientUuid, client.id),
          or(isNull(clientCredentials.revokedReason), ne(clientCredentials.revokedReason, 'removed')),
        ),
      )
      .returning({ kind: clientCredentials.kind });
    if (removed === undefined) throw new NotFoundError(`client "${clientId}" has no credential "${credentialId}"`);
    await tx.update(clients).set({ updatedAt: sql`now()` }).where(eq(clients.id, client.id));
    await recordChange(tx, { action: 'credential.removed', actor, clientId, details: { credential_id: credentialId, kind: removed.kind } });
  });
}

/**
 * Revokes the credentials whose secrets were found in public (a secret scanner's report,
 * see POST /admin/credentials/revoke-leaked): exactly those a reported token is the secret
 * of (its checksum good, the credential it names holding its hash), each at once and audited
 * as credential.leaked with where it was found. Every entry gets an outcome, never an error:
 * `ill_formed` (not a self-identifying secret of ours), `unknown` (no credential has it),
 * `already_revoked`, or `revoked`. The token itself is never echoed, logged or kept.
 */
export async function revokeLeaked(
  db: Db,
  reported: readonly LeakedToken[],
  actor: Actor,
  now: number,
  secretPrefix: string,
): Promise<LeakedTokenResult[]> {
  const results: LeakedTokenResult[] = [];
  for (const entry of reported) {
    const read = readPresentedSecret(entry.token, secretPrefix);
    if (read.form !== 'named') {
      results.push({ credential_id: null, client_id: null, outcome: 'ill_formed' });
      continue;
    }
    const [found] = await db
      .select({ credential: clientCredentials, clientId: clients.clientId })
      .from(clientCredentials)
      .innerJoin(clients, eq(clients.id, clientCredentials.clientUuid))
      .where(and(eq(clientCredentials.id, read.credentialId), eq(clientCredentials.kind, 'secret')));
    // The id alone proves nothing: only the secret that verifies against its hash is that credential's.
    const hash = found?.credential.hash;
    const matches = typeof hash === 'string' && (await verifySecret(hash, entry.token));
    if (found === undefined || !matches) {
      results.push({ credential_id: null, client_id: null, outcome: 'unknown' });
      continue;
    }
    const revoked = await db.transaction(async (tx) => {
      const [row] = await tx
        .update(clientCredentials)
        .set({ revokedAt: new Date(now), revokedReason: 'leaked' })
        .where(and(eq(clientCredentials.id, read.credentialId), isNull(clientCredentials.revokedAt)))
        .returning({ id: clientCredentials.id });
      if (row === undefined) return false;
      await recordChange(tx, {
        action: 'credential.leaked',
        actor,
        clientId: found.clientId,
        details: {
          credential_id: read.credentialId,
          ...(entry.type !== undefined && { type: entry.type }),
          ...(entry.url !== undefined && { url: entry.url }),
          ...(entry.source !== undefined && { source: entry.source }),
        },
      });
      return true;
    });
    results.push({ credential_id: read.credentialId, client_id: found.clientId, outcome: revoked ? 'revoked' : 'already_revoked' });
  }
  return results;
}
