import { randomBytes } from 'node:crypto';
import { CLIENT_ID_PATTERN } from '../schemas/common.js';
import type { ClientStatus } from '../schemas/enums.js';

/**
 * The rules about what a client is: its client_id, its service-account name, its status.
 * Routes, the CLI and the token endpoint call these, so each rule is written once.
 */

export function isValidClientId(clientId: string): boolean {
  return CLIENT_ID_PATTERN.test(clientId);
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A generated client_id: `client-` and 16 random characters of [a-z0-9] (about 82 bits). */
export function generateClientId(): string {
  const bytes = randomBytes(16);
  let id = 'client-';
  for (const byte of bytes) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

/** The user name under which a client appears to other services. */
export function serviceAccountUsername(clientId: string): string {
  return `service-account-${clientId}`;
}

/** The one definition of a client's status: active, disabled or expired. */
export function clientStatus(client: { enabled: boolean; expiresAt: number | Date | null }, now: number): ClientStatus {
  if (!client.enabled) return 'disabled';
  if (client.expiresAt !== null && Number(client.expiresAt) <= now) return 'expired';
  return 'active';
}
