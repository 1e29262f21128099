import { type Actor, recordChange } from '../audit/events.js';
import type { DbOrTx } from '../db/connect.js';
import { decryptAtRest, envelopeVersion, sealAtRest } from '../lib/crypto.js';
import { replaceSealedKey, storedPrivateKeys } from './store.js';

/**
 * The key-encryption keys: KEY_ENCRYPTION_KEY seals, and KEY_ENCRYPTION_KEY_PREVIOUS (if
 * set) only opens, so that the current key can be changed without losing signing keys.
 */
export interface KeyEncryptionKeys {
  current: Buffer | undefined;
  previous?: Buffer | undefined;
}

/** A lone Buffer (or undefined) is KEY_ENCRYPTION_KEY without a previous key. */
export type KeyEncryptionInput = Buffer | undefined | KeyEncryptionKeys;

export function keyEncryptionKeys(input: KeyEncryptionInput): KeyEncryptionKeys {
  return input === undefined || Buffer.isBuffer(input) ? { current: input } : input;
}

/** The stored key cannot be used with this configuration; the message names the variable. */
export class KeyUnavailableError extends Error {
  override name = 'KeyUnavailableError';
}

/**
 * What a v2 envelope is bound to: its row's kid. A sealed private key copied onto another
 * row (another kid) does not open, so nobody with write access to the table can make
 * Portier sign under a kid with a key that is not that kid's.
 */
function boundTo(kid: string): string {
  return `portier:signing-key:${kid}`;
}

/** The stored form of a new private key: sealed (v2) under the current key, or in clear without one. */
export function sealPrivateKey(input: KeyEncryptionInput, kid: string, privateJson: string): { privateKey: string; encrypted: boolean } {
  const { current } = keyEncryptionKeys(input);
  if (current === undefined) return { privateKey: privateJson, encrypted: false };
  return { privateKey: sealAtRest(current, privateJson, boundTo(kid)), encrypted: true };
}

/** A private key as stored. */
export interface StoredKey {
  kid: string;
  privateKey: string;
  encrypted: boolean;
}

/** How a stored private key was opened: whether it is already as resealKeys would leave it. */
interface Opened {
  json: string;
  sealedUnderCurrentV2: boolean;
}

function open(keys: KeyEncryptionKeys, row: StoredKey): Opened {
  if (!row.encrypted) return { json: row.privateKey, sealedUnderCurrentV2: false };
  if (keys.current === undefined) throw new KeyUnavailableError(`signing key ${row.kid} is encrypted; set KEY_ENCRYPTION_KEY`);
  const version = envelopeVersion(row.privateKey);
  for (const [key, isCurrent] of [
    [keys.current, true],
    [keys.previous, false],
  ] as const) {
    if (key === undefined) continue;
    try {
      return { json: decryptAtRest(key, row.privateKey, boundTo(row.kid)), sealedUnderCurrentV2: isCurrent && version === 'v2' };
    } catch {
      // wrong key, another kid's envelope, or tampered with: try the next key
    }
  }
  throw new KeyUnavailableError(
    keys.previous === undefined
      ? `KEY_ENCRYPTION_KEY does not decrypt signing key ${row.kid}`
      : `neither KEY_ENCRYPTION_KEY nor KEY_ENCRYPTION_KEY_PREVIOUS decrypts signing key ${row.kid}`,
  );
}

/** The private JWK (JSON) of a stored key; KeyUnavailableError, naming the variable, if it cannot be opened. */
export function openPrivateKey(input: KeyEncryptionInput, row: StoredKey): string {
  return open(keyEncryptionKeys(input), row).json;
}

/** What resealKeys did: the kids it sealed anew, and retired keys it could not open (left as they are). */
export interface ResealOutcome {
  resealed: string[];
  unreadable: string[];
}

/**
 * Seals every stored private key under the current KEY_ENCRYPTION_KEY as v2: keys in clear
 * (the variable was set after they were made), v1 envelopes, and keys sealed under
 * KEY_ENCRYPTION_KEY_PREVIOUS. Afterwards the previous key can be dropped. An active or
 * next key that neither key opens stops it (KeyUnavailableError, nothing changed once the
 * caller's transaction rolls back); a retired key never signs again, so one that cannot be
 * opened is only reported. Each row is updated only if it is still what was read, so two
 * processes resealing at once do no harm. Audited when anything was resealed.
 */
export async function resealKeys(tx: DbOrTx, input: KeyEncryptionInput, actor: Actor): Promise<ResealOutcome> {
  const keys = keyEncryptionKeys(input);
  const outcome: ResealOutcome = { resealed: [], unreadable: [] };
  const { current } = keys;
  if (current === undefined) return outcome;
  const rows = await storedPrivateKeys(tx);
  for (const row of rows) {
    let opened: Opened;
    try {
      opened = open(keys, row);
    } catch (error) {
      if (error instanceof KeyUnavailableError && row.status === 'retired') {
        outcome.unreadable.push(row.kid);
        continue;
      }
      throw error;
    }
    if (opened.sealedUnderCurrentV2) continue;
    await replaceSealedKey(tx, row.kid, row.privateKey, sealAtRest(current, opened.json, boundTo(row.kid)));
    outcome.resealed.push(row.kid);
  }
  if (outcome.resealed.length > 0) {
    await recordChange(tx, { action: 'keys.resealed', actor, details: { kids: outcome.resealed, unreadable: outcome.unreadable } });
  }
  return outcome;
}
