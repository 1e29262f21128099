import type { Logger } from 'pino';
import { SYSTEM_ACTOR } from './audit/events.js';
import { bootstrapSecretWarning, ensureBootstrapAdmin } from './clients/bootstrap.js';
import type { Config } from './config.js';
import type { Database } from './db/connect.js';
import { ensureGenerationRow } from './db/generation.js';
import { applyMigrations } from './db/migrations.js';
import { ensureConsoleCookieKey, ensureDpopNonceKey, ensureFingerprintKey } from './db/settings.js';
import { resealKeys } from './keys/sealing.js';
import { ensureActiveKey, loadKeySet } from './keys/signing-keys.js';
import { type Clock, systemClock } from './lib/clock.js';
import { ensureBuiltInServices } from './services/services.js';

/**
 * Brings the database to what this version of Portier needs: migrations, the cache
 * generation row, the fingerprint, DPoP nonce and console cookie keys, the built-in admin service (whose audience must
 * match ISSUER, see ensureBuiltInServices), an active signing key of SIGNING_ALG and the
 * bootstrap admin. Runs under the start-up lock (Database.exclusive), so several instances
 * starting at once on one PostgreSQL do this one after the other, and the second finds the
 * work done.
 */
export async function prepareDatabase(
  database: Database,
  config: Pick<Config, 'issuer' | 'signingAlg' | 'keyEncryptionKey' | 'keyEncryptionKeyPrevious' | 'bootstrapAdmin' | 'keyPublicationLead'>,
  log?: Logger,
  options: { moveIssuer?: boolean; clock?: Clock } = {},
): Promise<void> {
  const now = (options.clock ?? systemClock)();
  // One transaction under the start-up lock: several instances starting at once take
  // turns, and each finds what the ones before it did. Everything goes through `tx`.
  const keys = { current: config.keyEncryptionKey, previous: config.keyEncryptionKeyPrevious };
  await database.exclusive('startup', async (tx) => {
    const applied = await applyMigrations(tx);
    if (applied > 0) log?.info({ migrations: applied }, 'applied database migrations');
    await ensureGenerationRow(tx);
    await ensureFingerprintKey(tx);
    await ensureDpopNonceKey(tx);
    await ensureConsoleCookieKey(tx);
    await ensureBuiltInServices(tx, config.issuer, options);
    await ensureActiveKey(tx, config.signingAlg, keys, config.keyPublicationLead, new Date(now));
    // Keys in clear (KEY_ENCRYPTION_KEY set for the first time), in the old v1 envelope, or
    // sealed under KEY_ENCRYPTION_KEY_PREVIOUS: sealed anew under the current key, in this
    // transaction, so a key that cannot be opened stops the start with nothing changed.
    const { resealed, unreadable } = await resealKeys(tx, keys, SYSTEM_ACTOR);
    if (resealed.length > 0) log?.info({ keys: resealed.length }, 'sealed signing keys under KEY_ENCRYPTION_KEY');
    if (unreadable.length > 0)
      log?.warn({ kids: unreadable }, 'retired signing keys that no key-encryption key opens were left as they are');
    if (config.bootstrapAdmin !== undefined) {
      const outcome = await ensureBootstrapAdmin(tx, config.bootstrapAdmin.clientId, config.bootstrapAdmin.clientSecret, now);
      log?.info({ client_id: config.bootstrapAdmin.clientId, outcome }, 'bootstrap admin client checked');
    }
  });
  // Fail at start, not on the first token request, when the key cannot be used
  // (encrypted at rest but KEY_ENCRYPTION_KEY missing or wrong).
  await loadKeySet(database.db, keys, new Date(now));
  const secretWarning = config.bootstrapAdmin && bootstrapSecretWarning(config.bootstrapAdmin.clientSecret);
  if (secretWarning) log?.warn(secretWarning);
  if (config.keyEncryptionKey === undefined) {
    log?.warn('KEY_ENCRYPTION_KEY is not set: private signing keys are stored unencrypted in the database');
  }
}
