/**
 * Which clients a caller reaches (people/scope.ts decides it for each principal): every
 * client, or the clients of one owner. Under an owner's scope:
 * - another owner's client is answered as if it did not exist (404), for reads and for
 *   every change alike, so that whether it exists does not leak;
 * - a new client is that owner's, and no other owner may be named;
 * - grants may add only services marked self_service (see checkGrants);
 * - a client's owner cannot be changed.
 */
export type ClientScope = { kind: 'all' } | { kind: 'owner'; owner: string };

export const ALL_CLIENTS: ClientScope = { kind: 'all' };

/** Whether a client of `owner` is within `scope`. */
export function reaches(scope: ClientScope, owner: string): boolean {
  return scope.kind === 'all' || scope.owner === owner;
}
