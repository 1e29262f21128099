import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Compares two byte strings in time that depends only on their length. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A keyed digest: what Portier keeps in memory instead of a secret it has verified. */
export function hmacSha256(key: Buffer, value: string): Buffer {
  return createHmac('sha256', key).update(value, 'utf8').digest();
}

export function randomBase64Url(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

const ENVELOPE_VERSION = 'v1';

/** AES-256-GCM; the result is `v1.<iv>.<tag>.<ciphertext>`, each part base64url. */
export function encryptAtRest(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [ENVELOPE_VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** Reverses encryptAtRest; throws if the key is wrong or the envelope was tampered with. */
export function decryptAtRest(key: Buffer, envelope: string): string {
  const [version, iv, tag, ciphertext] = envelope.split('.');
  if (version !== ENVELOPE_VERSION || iv === undefined || tag === undefined || ciphertext === undefined) {
    throw new Error('not an encrypted key envelope');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
