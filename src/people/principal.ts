import type { Actor } from '../audit/events.js';
import type { Person } from './person.js';

/** Who is calling the admin API: an admin client with a Bearer token, or a person with a console session. */
export type Principal = AdminClientPrincipal | PersonPrincipal;

export interface AdminClientPrincipal {
  kind: 'client';
  clientId: string;
  /** The token's `sub`: the admin client's service-account id. */
  sub: string;
  /** Holds admin:write (everything); otherwise admin:read (reading only). */
  canWrite: boolean;
}

export interface PersonPrincipal extends Person {
  kind: 'person';
  /** Their console session's public id. */
  sessionId: string;
}

/** How the audit trail and the records name a principal. */
export function actorOf(principal: Principal, ip?: string): Actor {
  if (principal.kind === 'client') return { clientId: principal.clientId, sub: principal.sub, ip };
  return { clientId: null, sub: principal.subject, name: principal.name, ip };
}
