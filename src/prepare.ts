import type { Logger } from 'pino';
import { bootstrapSecretWarning, ensureBootstrapAdmin } from './clients/bootstrap.js';
import type { Config } from './config.js';
import type { Database } from './db/connect.js';
import { ensureGenerationRow } from './db/generation.js';
import { applyMigrations } from './db/migrations.js';
import { ensureDpopNonceKey, ensureFingerprintKey } from './db/settings.js';
import { encryptStoredKeys, ensureActiveKey, loadKeySet } from './keys/signing-keys.js';
import { ensureBuiltInServices } from './services/services.js';

/**
 * Brings the database to what this version of Portier needs: migrations, the cache
 * generation row, the fingerprint and DPoP nonce keys, the built-in admin service (whose audience must
 * match ISSUER, see ensureBuiltInServices), an active signing key of SIGNING_ALG and the
 * bootstrap admin. Runs under the start-up lock (Database.exclusive), so several instances
 * starting at once on one PostgreSQL do this one after the other, and the second finds the
 * work done.
 */
export async function prepareDatabase(
  database: Database,
  config: Pick<Config, 'issuer' | 'signingAlg' | 'keyEncryptionKey' | 'bootstrapAdmin'>,
  log?: Logger,
  options: { moveIssuer?: boolean } = {},
): Promise<void> {
  // One transaction under the start-up lock: several instances starting at once take
  // turns, and each finds what the ones before it did. Everything goes through `tx`.
  await database.exclusive('startup', async (tx) => {
    const applied = await applyMigrations(tx);
    if (applied > 0) log?.info({ migrations: applied }, 'applied database migrations');
    await ensureGenerationRow(tx);
    await ensureFingerprintKey(tx);
    await ensureDpopNonceKey(tx);
    await ensureBuiltInServices(tx, config.issuer, options);
    await ensureActiveKey(tx, config.signingAlg, config.keyEncryptionKey);
    if (config.keyEncryptionKey !== undefined) {
      const encrypted = await encryptStoredKeys(tx, config.keyEncryptionKey);
      if (encrypted > 0) log?.info({ keys: encrypted }, 'encrypted signing keys that were stored in clear');
    }
    if (config.bootstrapAdmin !== undefined) {
      const outcome = await ensureBootstrapAdmin(tx, config.bootstrapAdmin.clientId, config.bootstrapAdmin.clientSecret);
      log?.info({ client_id: config.bootstrapAdmin.clientId, outcome }, 'bootstrap admin client checked');
    }
  });
  // Fail at start, not on the first token request, when the key cannot be used
  // (encrypted at rest but KEY_ENCRYPTION_KEY missing or wrong).
  await loadKeySet(database.db, config.keyEncryptionKey);
  const secretWarning = config.bootstrapAdmin && bootstrapSecretWarning(config.bootstrapAdmin.clientSecret);
  if (secretWarning) log?.warn(secretWarning);
  if (config.keyEncryptionKey === undefined) {
    log?.warn('KEY_ENCRYPTION_KEY is not set: private signing keys are stored unencrypted in the database');
  }
}
