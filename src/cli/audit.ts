import { listAuditEvents } from '../audit/store.js';
import { auditQuery } from '../schemas/audit.js';
import { type CommandGroup, definedOnly, print, validate } from './common.js';

/** `portier audit …`: the same listing as /admin/audit-events. */
export const auditCommand: CommandGroup = async (session, _sub, _args, flags) => {
  const query = validate(
    auditQuery,
    definedOnly({
      client_id: flags['client-id'],
      action: flags.action,
      limit: flags.limit === undefined ? undefined : Number(flags.limit),
    }),
  );
  const { limit, ...filters } = query;
  print(session.out, await listAuditEvents(session.database.db, filters, { limit }));
};
