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

/**
 * The envelopes of data encrypted at rest, all AES-256-GCM as `<version>.<iv>.<tag>.<ciphertext>`
 * (each part base64url). `v1` is bound to nothing; `v2` is bound to a context string (the
 * additional authenticated data), so that a ciphertext copied to another row does not open.
 */
export type EnvelopeVersion = 'v1' | 'v2';

function encrypt(version: EnvelopeVersion, key: Buffer, plaintext: string, boundTo: string | undefined): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (boundTo !== undefined) cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [version, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** The v1 envelope, bound to nothing: still read, no longer written (kept for tests of old data). */
export function encryptAtRest(key: Buffer, plaintext: string): string {
  return encrypt('v1', key, plaintext, undefined);
}

/** The v2 envelope: opens only with the same key and the same `boundTo`. */
export function sealAtRest(key: Buffer, plaintext: string, boundTo: string): string {
  return encrypt('v2', key, plaintext, boundTo);
}

/** Which envelope `envelope` is, or undefined if it is none. */
export function envelopeVersion(envelope: string): EnvelopeVersion | undefined {
  const [version, iv, tag, ciphertext, extra] = envelope.split('.');
  if (iv === undefined || tag === undefined || ciphertext === undefined || extra !== undefined) return undefined;
  return version === 'v1' || version === 'v2' ? version : undefined;
}

/**
 * Reverses encryptAtRest and sealAtRest (`boundTo` only counts for v2); throws if the key or
 * the binding is wrong, or the envelope was tampered with.
 */
export function decryptAtRest(key: Buffer, envelope: string, boundTo?: string): string {
  const version = envelopeVersion(envelope);
  const [, iv = '', tag = '', ciphertext = ''] = envelope.split('.');
  if (version === undefined) throw new Error('not an encrypted key envelope');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  if (version === 'v2') {
    if (boundTo === undefined) throw new Error('a v2 envelope opens only with what it is bound to');
    decipher.setAAD(Buffer.from(boundTo, 'utf8'));
  }
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
