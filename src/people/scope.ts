import { ALL_CLIENTS, type ClientVisibility } from '../access/visibility.js';
import type { PersonRole } from '../schemas/enums.js';
import type { Principal } from './principal.js';

/**
 * What each caller of the admin API may see and do, in one place. Admin clients keep
 * the rules of their token's scope (admin:write: everything, as an admin; admin:read:
 * reading, as an auditor). People have the role their groups give them at sign-in:
 *
 * | role     | clients                     | services                  | keys, sessions | audit trail          |
 * |----------|-----------------------------|---------------------------|----------------|----------------------|
 * | admin    | all                         | all                       | all            | all                  |
 * | auditor  | read all                    | read all                  | read           | read all             |
 * | operator | their own, read and change  | read the self-service ones| none           | their clients' events|
 *
 * The event stream and webhooks (area `events`) are for admins, and for auditors to read.
 */

/** The parts of the admin API, as these rules see them. */
export type AdminArea = 'clients' | 'services' | 'trusted-issuers' | 'keys' | 'audit' | 'sessions' | 'config' | 'events';

/** What operators may read beyond their own clients: the catalogue they grant from and the trail of their clients. */
const READABLE_BY_OPERATORS: ReadonlySet<AdminArea | undefined> = new Set(['services', 'trusted-issuers', 'audit']);

/** The role a principal acts in: a person's own, or the one an admin token's scope amounts to. */
export function roleOf(principal: Principal): PersonRole {
  if (principal.kind === 'person') return principal.role;
  return principal.canWrite ? 'admin' : 'auditor';
}

function isReading(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/**
 * Why `principal` may not make a `method` request to `area` at all, or undefined when it
 * may (what it then reaches within the area is the scopes below).
 */
export function accessDenial(principal: Principal, area: AdminArea | undefined, method: string): string | undefined {
  const role = roleOf(principal);
  if (role === 'admin') return undefined;
  if (role === 'auditor') return isReading(method) ? undefined : 'auditors can read everything but change nothing';
  // Operators: their own clients, and reading what READABLE_BY_OPERATORS lists. A route
  // without an area is for admins (and auditors) only.
  if (area === 'clients') return undefined;
  if (READABLE_BY_OPERATORS.has(area) && isReading(method)) return undefined;
  if (area === 'services' || area === 'trusted-issuers')
    return `operators can read the ${area === 'services' ? 'self-service services' : 'trusted issuers'}, not change them`;
  return `operators manage their own clients; ${OPERATOR_DENIED[area ?? 'other']} are for admins`;
}

/** What operators are told is beyond them, by area. */
const OPERATOR_DENIED: Record<Exclude<AdminArea, 'clients' | 'services' | 'trusted-issuers'> | 'other', string> = {
  keys: 'signing keys',
  audit: 'other audit events',
  sessions: 'sessions',
  config: 'configuration documents',
  events: 'the event stream and webhooks',
  other: 'these requests',
};

/** Which clients a principal reaches: an operator only their own (by OIDC_OWNER_CLAIM), everyone else all. */
export function clientVisibilityOf(principal: Principal): ClientVisibility {
  return roleOf(principal) === 'operator' && principal.kind === 'person' ? { kind: 'owner', owner: principal.owner } : ALL_CLIENTS;
}

/** Whether a principal sees only the services open to self-service (operators do). */
export function seesSelfServiceOnly(principal: Principal): boolean {
  return roleOf(principal) === 'operator';
}
