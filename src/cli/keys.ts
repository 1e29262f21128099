import type { Config } from '../config.js';
import { bringForward, emergencyRotation, type RotationOutcome, requestRotation, toRotationResponse } from '../keys/rotation.js';
import { resealKeys } from '../keys/sealing.js';
import { rotationSettings } from '../keys/settings.js';
import { listSigningKeys } from '../keys/signing-keys.js';
import { RuleError, ValidationError } from '../lib/errors.js';
import { activateFields, rotateFields } from '../schemas/keys.js';
import { definedOnly, one, print, type Session, UsageError, validate } from './common.js';
import type { Flags } from './options.js';

/**
 * `portier keys …`: the same functions as /admin/keys, /admin/keys/rotate and
 * /admin/keys/{kid}/activate, checked against the same schemas, and re-sealing.
 */
export async function keysCommand(session: Session, config: Config, sub: string | undefined, args: string[], flags: Flags): Promise<void> {
  const { out, database, actor } = session;
  const settings = rotationSettings(config);
  const report = async (outcome: RotationOutcome) => {
    out.stderr(
      outcome.status === 'active'
        ? `key ${outcome.kid} signs from now on${outcome.withdrawn.length > 0 ? `; withdrawn from the JWKS: ${outcome.withdrawn.join(', ')}` : ''}\n`
        : `key ${outcome.kid} is published and starts signing at ${outcome.activatesAt.toISOString()}\n`,
    );
    print(out, toRotationResponse(outcome, await listSigningKeys(database.db)));
  };
  if (sub === 'list') {
    print(out, { items: await listSigningKeys(database.db) });
  } else if (sub === 'rotate') {
    const activateAfter = wholeSeconds(flags['activate-after'], '/activate_after');
    const body = validate(rotateFields, definedOnly({ emergency: flags.emergency, activate_after: activateAfter }));
    if (body.emergency === true && body.activate_after !== undefined) {
      throw new ValidationError([
        { path: '/activate_after', message: 'an emergency rotation switches at once: leave --activate-after out' },
      ]);
    }
    await report(
      body.emergency === true
        ? await emergencyRotation(database, settings, new Date(session.clock()), actor)
        : await requestRotation(database, settings, new Date(session.clock()), actor, { activateAfter: body.activate_after }),
    );
  } else if (sub === 'activate') {
    const kid = one(args, 'the kid of the next key');
    const body = validate(activateFields, definedOnly({ at: flags.at }));
    await report(
      await bringForward(database, settings, kid, body.at === undefined ? undefined : new Date(body.at), new Date(session.clock()), actor),
    );
  } else if (sub === 'reseal') {
    if (config.keyEncryptionKey === undefined) throw new RuleError('KEY_ENCRYPTION_KEY is not set: there is no key to seal with');
    const outcome = await database.exclusive('keys', (tx) => resealKeys(tx, settings.keys, actor));
    out.stderr(`sealed ${outcome.resealed.length} signing key(s) under KEY_ENCRYPTION_KEY\n`);
    print(out, outcome);
  } else throw new UsageError(`unknown keys command "${sub ?? ''}"`);
}

/** A flag's whole number of seconds, or undefined when the flag is absent. */
function wholeSeconds(raw: string | undefined, path: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new ValidationError([{ path, message: `must be a whole number of seconds, got ${JSON.stringify(raw)}` }]);
  return Number(raw);
}
