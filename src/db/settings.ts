import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { DbOrTx } from './connect.js';
import { settings } from './schema.js';

/**
 * A random 32-byte key every instance must share, made by the first start that needs it
 * (later starts and other instances keep it): the settings below are such keys.
 */
async function ensureSharedKey(db: DbOrTx, name: string): Promise<void> {
  await db
    .insert(settings)
    .values({ name, value: randomBytes(32).toString('base64') })
    .onConflictDoNothing();
}

async function loadSharedKey(db: DbOrTx, name: string, what: string): Promise<Buffer> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.name, name));
  if (row === undefined) throw new Error(`the database has no ${what} yet; run the start-up preparation (portier migrate)`);
  return Buffer.from(row.value, 'base64');
}

/** The key under which presented client_ids are fingerprinted for logs and audit (lib/redact.ts). */
const FINGERPRINT_KEY = 'client_fingerprint_key';

export const ensureFingerprintKey = (db: DbOrTx) => ensureSharedKey(db, FINGERPRINT_KEY);
export const loadFingerprintKey = (db: DbOrTx) => loadSharedKey(db, FINGERPRINT_KEY, 'fingerprint key');

/** The key under which DPoP nonces are made (oauth/dpop.ts): every instance makes and accepts the same nonces. */
const DPOP_NONCE_KEY = 'dpop_nonce_key';

export const ensureDpopNonceKey = (db: DbOrTx) => ensureSharedKey(db, DPOP_NONCE_KEY);
export const loadDpopNonceKey = (db: DbOrTx) => loadSharedKey(db, DPOP_NONCE_KEY, 'DPoP nonce key');

/** The key of people's console cookies (people/cookies.ts): any instance reads a cookie another one set. */
const CONSOLE_COOKIE_KEY = 'console_cookie_key';

export const ensureConsoleCookieKey = (db: DbOrTx) => ensureSharedKey(db, CONSOLE_COOKIE_KEY);
export const loadConsoleCookieKey = (db: DbOrTx) => loadSharedKey(db, CONSOLE_COOKIE_KEY, 'console cookie key');
