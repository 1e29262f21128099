import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { DbOrTx } from './connect.js';
import { settings } from './schema.js';

/** The key under which presented client_ids are fingerprinted for logs and audit (lib/redact.ts). */
const FINGERPRINT_KEY = 'client_fingerprint_key';

/** Makes the fingerprint key on the first start; later starts and other instances keep it. */
export async function ensureFingerprintKey(db: DbOrTx): Promise<void> {
  await db
    .insert(settings)
    .values({ name: FINGERPRINT_KEY, value: randomBytes(32).toString('base64') })
    .onConflictDoNothing();
}

export async function loadFingerprintKey(db: DbOrTx): Promise<Buffer> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.name, FINGERPRINT_KEY));
  if (row === undefined) throw new Error('the database has no fingerprint key yet; run the start-up preparation (portier migrate)');
  return Buffer.from(row.value, 'base64');
}

/**
 * The key under which DPoP nonces are made (oauth/dpop.ts): every instance makes and
 * accepts the same nonces without sharing anything else.
 */
const DPOP_NONCE_KEY = 'dpop_nonce_key';

/** Makes the DPoP nonce key on the first start of a version that has it; later starts keep it. */
export async function ensureDpopNonceKey(db: DbOrTx): Promise<void> {
  await db
    .insert(settings)
    .values({ name: DPOP_NONCE_KEY, value: randomBytes(32).toString('base64') })
    .onConflictDoNothing();
}

export async function loadDpopNonceKey(db: DbOrTx): Promise<Buffer> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.name, DPOP_NONCE_KEY));
  if (row === undefined) throw new Error('the database has no DPoP nonce key yet; run the start-up preparation (portier migrate)');
  return Buffer.from(row.value, 'base64');
}
