import { createServiceBody, patchServiceBody } from '../schemas/services.js';
import { createService, deleteService, getService, listServices, updateService } from '../services/services.js';
import { type CommandGroup, definedOnly, negatableFlag, one, print, UsageError, validate } from './common.js';
import type { Flags } from './options.js';

/**
 * What operators may choose for their own clients granted the service: `--self-service-role`
 * (repeated: the whole list; `--no-self-service-roles`: none) and `--self-service-max-ttl
 * SECONDS` (`none` clears it). A number stays text when it is not one, so that the schema
 * names the flag's field.
 */
function offerFlags(flags: Flags) {
  const maxTtl = flags['self-service-max-ttl'];
  if (flags['no-self-service-roles'] === true && flags['self-service-role'] !== undefined) {
    throw new UsageError('give --self-service-role or --no-self-service-roles, not both');
  }
  return {
    self_service_roles: flags['no-self-service-roles'] === true ? [] : flags['self-service-role'],
    self_service_max_access_token_ttl:
      maxTtl === undefined ? undefined : maxTtl === 'none' ? null : /^\d+$/.test(maxTtl) ? Number(maxTtl) : maxTtl,
  };
}

/** `portier services …`: the same functions as /admin/services. */
export const servicesCommand: CommandGroup = async (session, sub, args, flags) => {
  const { out, actor } = session;
  const { db } = session.database;
  switch (sub) {
    case 'list':
      print(out, { items: await listServices(db) });
      return;
    case 'get':
      print(out, await getService(db, one(args, 'service id')));
      return;
    case 'create': {
      const input = validate(
        createServiceBody,
        definedOnly({
          id: flags.id,
          name: flags.name,
          audience: flags.audience,
          description: flags.description,
          scopes: flags.scope,
          self_service: negatableFlag(flags, 'self-service'),
          ...offerFlags(flags),
        }),
      );
      print(out, await createService(db, input, actor));
      return;
    }
    case 'update': {
      const patch = validate(
        patchServiceBody,
        definedOnly({
          name: flags.name,
          audience: flags.audience,
          description: flags.description,
          scopes: flags.scope,
          self_service: negatableFlag(flags, 'self-service'),
          ...offerFlags(flags),
        }),
      );
      print(out, await updateService(db, one(args, 'service id'), patch, actor));
      return;
    }
    case 'delete':
      await deleteService(db, one(args, 'service id'), actor);
      out.stderr('deleted\n');
      return;
    default:
      throw new UsageError(`unknown services command "${sub ?? ''}"`);
  }
};
