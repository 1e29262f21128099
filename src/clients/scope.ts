/**
 * Which clients a caller reaches (people/scope.ts decides it for each principal): every
 * client, or the clients of one owner. Under an owner's scope:
 * - another owner's client is answered as if it did not exist (404), for reads and for
 *   every change alike, so that whether it exists does not leak;
 * - grants may add only services marked self_service (see checkGrants);
 * - what else may be set is the operator's limits (operator-limits.ts): a new client is that
 *   owner's and no other owner may be named, platform identities and what shapes tokens are
 *   an admin's, roles and lifetimes within what the client's services offer operators.
 */
export type ClientScope = { kind: 'all' } | { kind: 'owner'; owner: string };

export const ALL_CLIENTS: ClientScope = { kind: 'all' };

/** Whether a client of `owner` is within `scope`. */
export function reaches(scope: ClientScope, owner: string): boolean {
  return scope.kind === 'all' || scope.owner === owner;
}
