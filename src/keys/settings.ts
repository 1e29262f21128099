import type { Config } from '../config.js';
import { MAX_TOKEN_TTL } from '../schemas/limits.js';
import type { RotationSettings } from './rotation.js';

/**
 * The rotation settings of a configuration: the same for the server, the admin API and the CLI.
 *
 * A retired key stays published as long as the longest token it may have signed lives, and
 * that is MAX_TOKEN_TTL, not ACCESS_TOKEN_TTL: a client or a service may give its tokens a
 * lifetime of its own (up to that bound, see policy/shapes.ts), and a lifetime lowered
 * since, or an ACCESS_TOKEN_TTL lowered at a restart, leaves tokens out there that were
 * issued under the longer one. Keeping a public key listed a little longer costs nothing.
 */
export function rotationSettings(
  config: Pick<Config, 'signingAlg' | 'keyEncryptionKey' | 'keyEncryptionKeyPrevious' | 'keyRotationDays' | 'keyPublicationLead'>,
): RotationSettings & { rotationDays: number | undefined } {
  return {
    alg: config.signingAlg,
    keys: { current: config.keyEncryptionKey, previous: config.keyEncryptionKeyPrevious },
    maxTokenTtl: MAX_TOKEN_TTL,
    publicationLead: config.keyPublicationLead,
    rotationDays: config.keyRotationDays,
  };
}
