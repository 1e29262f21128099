import { and, eq, isNull } from 'drizzle-orm';
import { BOOTSTRAP_ACTOR, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { clientCredentials, clientGrants, clients } from '../db/schema.js';
import { ADMIN_SCOPES, ADMIN_SERVICE_ID } from '../services/services.js';
import { createClient } from './clients.js';
import { secretRow } from './credential-rows.js';
import { newCredentialId, storedSecret, verifySecret } from './secrets.js';

/**
 * The characters of `secret` outside RFC 3986's unreserved set (letters, digits, `-._~`).
 * RFC 6749 §2.3.1 has clients form-encode the id and secret before HTTP Basic, and the
 * server decode them, so `+` means a space and `%` starts an escape. Several widely used
 * clients skip the encoding; with such a secret they fail, though the secret is right.
 * Generated secrets never contain these; an operator-chosen bootstrap secret might.
 */
export function charactersUnsafeForBasic(secret: string): string[] {
  return [...new Set(secret.replace(/[A-Za-z0-9\-._~]/g, ''))];
}

/** The start-up warning for a bootstrap secret with such characters, or undefined when it has none. */
export function bootstrapSecretWarning(secret: string): string | undefined {
  const unsafe = charactersUnsafeForBasic(secret);
  if (unsafe.length === 0) return undefined;
  const shown = unsafe.map((character) => (character === ' ' ? 'space' : JSON.stringify(character))).join(', ');
  return (
    `BOOTSTRAP_ADMIN_CLIENT_SECRET contains characters outside RFC 3986's unreserved set (${shown}): ` +
    'Authlib, requests-oauthlib, google-oauth-client and `curl -u` send it over HTTP Basic without the form-encoding ' +
    'RFC 6749 §2.3.1 asks for, and are refused; have such clients use client_secret_post, or choose a secret of ' +
    'letters, digits and - . _ ~'
  );
}

export type BootstrapOutcome = 'created' | 'updated' | 'unchanged';

/**
 * BOOTSTRAP_ADMIN_CLIENT_ID/SECRET: make sure an admin client with exactly these
 * credentials exists and is granted both admin scopes. Idempotent: run at every start.
 * It does not re-enable a client an admin has disabled on purpose.
 */
export async function ensureBootstrapAdmin(db: DbOrTx, clientId: string, clientSecret: string, now: number): Promise<BootstrapOutcome> {
  const [existing] = await db.select().from(clients).where(eq(clients.clientId, clientId));
  if (existing === undefined) {
    await createClient(
      db,
      {
        client_id: clientId,
        name: 'Bootstrap admin',
        description: 'Created from BOOTSTRAP_ADMIN_CLIENT_ID',
        owner: 'bootstrap',
        grants: [{ service: ADMIN_SERVICE_ID, scopes: [...ADMIN_SCOPES] }],
      },
      BOOTSTRAP_ACTOR,
      { secret: clientSecret, now },
    );
    return 'created';
  }

  const secrets = await db
    .select()
    .from(clientCredentials)
    .where(and(eq(clientCredentials.clientUuid, existing.id), eq(clientCredentials.kind, 'secret'), isNull(clientCredentials.revokedAt)));
  let secretMatches = false;
  for (const secret of secrets) {
    if (secret.expiresAt === null && secret.hash !== null && (await verifySecret(secret.hash, clientSecret))) {
      secretMatches = true;
      // A secret stored before contains_plus existed learns it here, from the secret itself.
      const containsPlus = clientSecret.includes('+');
      if (secret.containsPlus !== containsPlus)
        await db.update(clientCredentials).set({ containsPlus }).where(eq(clientCredentials.id, secret.id));
    }
  }
  const [grant] = await db
    .select()
    .from(clientGrants)
    .where(and(eq(clientGrants.clientUuid, existing.id), eq(clientGrants.serviceId, ADMIN_SERVICE_ID)));
  const grantComplete = grant !== undefined && ADMIN_SCOPES.every((scope) => grant.scopes.includes(scope));
  if (secretMatches && grantComplete) return 'unchanged';

  const stored = secretMatches ? undefined : await storedSecret(clientSecret);
  await db.transaction(async (tx) => {
    if (stored !== undefined) {
      await tx.delete(clientCredentials).where(and(eq(clientCredentials.clientUuid, existing.id), eq(clientCredentials.kind, 'secret')));
      // No end: the operator's secret lives as long as the environment gives it.
      const details = { description: 'BOOTSTRAP_ADMIN_CLIENT_SECRET', expiresAt: null };
      await tx
        .insert(clientCredentials)
        .values(secretRow(existing.id, { credentialId: newCredentialId(), stored }, BOOTSTRAP_ACTOR, details));
    }
    if (!grantComplete) {
      const scopes = [...new Set([...(grant?.scopes ?? []), ...ADMIN_SCOPES])];
      await tx
        .insert(clientGrants)
        .values({ clientUuid: existing.id, serviceId: ADMIN_SERVICE_ID, scopes })
        .onConflictDoUpdate({ target: [clientGrants.clientUuid, clientGrants.serviceId], set: { scopes } });
    }
    await recordChange(tx, {
      action: 'client.bootstrap_updated',
      actor: BOOTSTRAP_ACTOR,
      clientId,
      details: { secret_replaced: stored !== undefined, admin_grant_restored: !grantComplete },
    });
  });
  return 'updated';
}
