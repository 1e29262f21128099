import { and, eq } from 'drizzle-orm';
import { BOOTSTRAP_ACTOR, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { clientGrants, clientSecrets, clients } from '../db/schema.js';
import { ADMIN_SCOPES, ADMIN_SERVICE_ID } from '../services/services.js';
import { createClient } from './clients.js';
import { hashSecret, verifySecret } from './secrets.js';

export type BootstrapOutcome = 'created' | 'updated' | 'unchanged';

/**
 * BOOTSTRAP_ADMIN_CLIENT_ID/SECRET: make sure an admin client with exactly these
 * credentials exists and is granted both admin scopes. Idempotent: run at every start.
 * It does not re-enable a client an admin has disabled on purpose.
 */
export async function ensureBootstrapAdmin(db: DbOrTx, clientId: string, clientSecret: string): Promise<BootstrapOutcome> {
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
      { secret: clientSecret },
    );
    return 'created';
  }

  const secrets = await db.select().from(clientSecrets).where(eq(clientSecrets.clientUuid, existing.id));
  let secretMatches = false;
  for (const secret of secrets) {
    if (secret.expiresAt === null && (await verifySecret(secret.hash, clientSecret))) secretMatches = true;
  }
  const [grant] = await db
    .select()
    .from(clientGrants)
    .where(and(eq(clientGrants.clientUuid, existing.id), eq(clientGrants.serviceId, ADMIN_SERVICE_ID)));
  const grantComplete = grant !== undefined && ADMIN_SCOPES.every((scope) => grant.scopes.includes(scope));
  if (secretMatches && grantComplete) return 'unchanged';

  const hash = secretMatches ? undefined : await hashSecret(clientSecret);
  await db.transaction(async (tx) => {
    if (hash !== undefined) {
      await tx.delete(clientSecrets).where(eq(clientSecrets.clientUuid, existing.id));
      await tx.insert(clientSecrets).values({ clientUuid: existing.id, hash });
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
      details: { secret_replaced: hash !== undefined, admin_grant_restored: !grantComplete },
    });
  });
  return 'updated';
}
