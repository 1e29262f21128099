import type { Config } from '../config.js';
import { emergencyRotation, requestRotation, toRotationResponse } from '../keys/rotation.js';
import { resealKeys } from '../keys/sealing.js';
import { rotationSettings } from '../keys/settings.js';
import { listSigningKeys } from '../keys/signing-keys.js';
import { RuleError } from '../lib/errors.js';
import { print, type Session, UsageError } from './common.js';
import type { Flags } from './options.js';

/** `portier keys …`: the same functions as /admin/keys and /admin/keys/rotate, and re-sealing. */
export async function keysCommand(session: Session, config: Config, sub: string | undefined, flags: Flags): Promise<void> {
  const { out, database, actor } = session;
  if (sub === 'list') {
    print(out, { items: await listSigningKeys(database.db) });
  } else if (sub === 'rotate') {
    const rotate = flags.emergency === true ? emergencyRotation : requestRotation;
    const outcome = await rotate(database, rotationSettings(config), new Date(), actor);
    out.stderr(
      outcome.status === 'active'
        ? `key ${outcome.kid} signs from now on${outcome.withdrawn.length > 0 ? `; withdrawn from the JWKS: ${outcome.withdrawn.join(', ')}` : ''}\n`
        : `key ${outcome.kid} is published and starts signing at ${outcome.activatesAt.toISOString()}\n`,
    );
    print(out, toRotationResponse(outcome, await listSigningKeys(database.db)));
  } else if (sub === 'reseal') {
    if (config.keyEncryptionKey === undefined) throw new RuleError('KEY_ENCRYPTION_KEY is not set: there is no key to seal with');
    const keys = rotationSettings(config).keys;
    const outcome = await database.exclusive('keys', (tx) => resealKeys(tx, keys, actor));
    out.stderr(`sealed ${outcome.resealed.length} signing key(s) under KEY_ENCRYPTION_KEY\n`);
    print(out, outcome);
  } else throw new UsageError(`unknown keys command "${sub ?? ''}"`);
}
