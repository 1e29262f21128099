import { createServiceBody, patchServiceBody } from '../schemas/services.js';
import { createService, deleteService, getService, listServices, updateService } from '../services/services.js';
import { type CommandGroup, definedOnly, negatableFlag, one, print, UsageError, validate } from './common.js';

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
