import type { JWK } from 'jose';
import type { Actor } from '../audit/events.js';
import { publicKeyOf } from '../clients/credentials.js';
import { type KeyCredential, type KeyDetails, setKeyDetails } from '../clients/key-credentials.js';
import { jwkThumbprint } from '../clients/public-keys.js';
import type { DbOrTx } from '../db/connect.js';
import { type FieldError, ValidationError } from '../lib/errors.js';
import { parseTimestamp } from '../lib/time.js';
import type { CredentialEntry } from '../schemas/config.js';

/**
 * A client's public keys in a configuration document as `credentials`: each key with its
 * description and expiry, as GET /admin/clients/{id}/credentials lists them. An apply makes
 * the client's keys the listed ones through its `jwks` (the same rules: at most
 * MAX_CREDENTIALS_PER_CLIENT, a key kept keeps its credential), then sets each key's
 * description and expiry, found by its JWK thumbprint (clients/key-credentials.ts).
 */

type Entry = Record<string, unknown>;

/** The credentials of a client as an export shows them. */
export function credentialEntries(keys: readonly KeyCredential[]): Entry[] {
  return keys.map((key) => ({
    kind: 'public_key',
    description: key.description,
    expires_at: key.expiresAt?.toISOString() ?? null,
    jwk: key.jwk,
  }));
}

/** A document's credentials read: the keys, as stored, and what it says of each; errors named by place. */
export async function readCredentials(entries: readonly CredentialEntry[]): Promise<{ keys: JWK[]; details: KeyDetails[] }> {
  const errors: FieldError[] = [];
  const keys: JWK[] = [];
  const details: KeyDetails[] = [];
  for (const [index, entry] of entries.entries()) {
    const path = `/credentials/${index}`;
    const found: FieldError[] = [];
    const key = await publicKeyOf({ jwk: entry.jwk, pem: entry.pem }, found);
    errors.push(...found.map((error) => ({ path: `${path}${error.path}`, message: error.message })));
    const expiresAt = typeof entry.expires_at === 'string' ? parseTimestamp(entry.expires_at) : entry.expires_at;
    if (expiresAt === undefined && typeof entry.expires_at === 'string') {
      errors.push({ path: `${path}/expires_at`, message: 'must be an RFC 3339 date-time in the years 1 to 9999' });
    }
    const thumbprint = key === undefined ? undefined : jwkThumbprint(key as JWK);
    if (key === undefined || thumbprint === undefined) continue;
    const twice = details.findIndex((other) => other.thumbprint === thumbprint);
    if (twice >= 0) {
      errors.push({ path: `${path}/jwk`, message: `is the key of credentials[${twice}] again (the same JWK thumbprint)` });
      continue;
    }
    keys.push(key as JWK);
    details.push({ thumbprint, description: entry.description ?? '', expiresAt, path });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return { keys, details };
}

/** The entry (or patch) with its credentials given as the `jwks` the client functions take. */
export async function withCredentialsAsJwks(entry: Entry): Promise<{ entry: Entry; details: KeyDetails[] | undefined }> {
  const { credentials, ...rest } = entry;
  if (credentials === undefined) return { entry, details: undefined };
  if (rest.jwks !== undefined) {
    throw new ValidationError([{ path: '/credentials', message: 'give the keys either as credentials or as jwks, not both' }]);
  }
  const { keys, details } = await readCredentials(credentials as CredentialEntry[]);
  return { entry: { ...rest, jwks: { keys } }, details };
}

/**
 * Sets the descriptions and expiries the document gives its keys, once the keys are the
 * document's (a key this apply added already ends where the maximum lifetime says, as
 * createClient and updateClient make every new key).
 */
export async function applyKeyDetails(
  tx: DbOrTx,
  clientId: string,
  details: readonly KeyDetails[],
  context: { actor: Actor; now: number; maxLifetimeDays: number | undefined },
): Promise<void> {
  await setKeyDetails(tx, clientId, details, context.actor, context.now, { maxLifetimeDays: context.maxLifetimeDays });
}

/** A ValidationError of the client functions about the `jwks` the credentials became, named as the credentials. */
export function asCredentialsError(error: unknown): unknown {
  if (!(error instanceof ValidationError)) return error;
  return new ValidationError(error.errors.map((found) => ({ ...found, path: found.path.replace(/^\/jwks(\/keys)?/, '/credentials') })));
}
