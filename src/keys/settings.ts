import type { Config } from '../config.js';
import type { RotationSettings } from './rotation.js';

/** The rotation settings of a configuration: the same for the server, the admin API and the CLI. */
export function rotationSettings(
  config: Pick<
    Config,
    'signingAlg' | 'keyEncryptionKey' | 'keyEncryptionKeyPrevious' | 'accessTokenTtl' | 'keyRotationDays' | 'keyPublicationLead'
  >,
): RotationSettings & { rotationDays: number | undefined } {
  return {
    alg: config.signingAlg,
    keys: { current: config.keyEncryptionKey, previous: config.keyEncryptionKeyPrevious },
    maxTokenTtl: config.accessTokenTtl,
    publicationLead: config.keyPublicationLead,
    rotationDays: config.keyRotationDays,
  };
}
