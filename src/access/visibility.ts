/**
 * Which clients a caller sees and changes (people/scope.ts decides it for each principal):
 * every client, or the clients of one owner. Under an owner's visibility:
 * - another owner's client is answered as if it did not exist (404), for reads and for
 *   every change alike, so that whether it exists does not leak;
 * - grants may add only services marked self_service (see checkGrants);
 * - what else may be set is the operator's limits (clients/operator-limits.ts): a new
 *   client is that owner's and no other owner may be named, platform identities and what
 *   shapes tokens are an admin's, roles and lifetimes within what the client's services
 *   offer operators.
 * ("Scope" is kept for OAuth scopes.) Here, below the concerns that apply it (clients,
 * audit, usage), so that none of them imports another for it.
 */
export type ClientVisibility = { kind: 'all' } | { kind: 'owner'; owner: string };

export const ALL_CLIENTS: ClientVisibility = { kind: 'all' };

/** Whether a client of `owner` is within `visibility`. */
export function reaches(visibility: ClientVisibility, owner: string): boolean {
  return visibility.kind === 'all' || visibility.owner === owner;
}
