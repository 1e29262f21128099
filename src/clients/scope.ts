/**
 * Which clients a caller reaches (people/scope.ts decides it for each principal): every
 * client, or the clients of one owner. Under an owner's scope:
 * - another owner's client is answered as if it did not exist (404), for reads and for
 *   every change alike, so that whether it exists does not leak;
 * - a new client is that owner's, and no other owner may be named;
 * - grants may add only services marked self_service (see checkGrants);
 * - a client's owner cannot be changed;
 * - a client cannot be federated, nor its platform identities changed (see federatedInScope).
 */
export type ClientScope = { kind: 'all' } | { kind: 'owner'; owner: string };

export const ALL_CLIENTS: ClientScope = { kind: 'all' };

/** Whether a client of `owner` is within `scope`. */
export function reaches(scope: ClientScope, owner: string): boolean {
  return scope.kind === 'all' || scope.owner === owner;
}

/**
 * Whether platform identities may be set under `scope`. Not under an owner's: an identity
 * names a workload (a Kubernetes service account, a repository's workflow), not a secret,
 * so an operator could name another team's workload and let it sign in as their own
 * client, or make a second client match it and so break the first one's sign-in without
 * client_id. Admins set them.
 */
export function federatedInScope(scope: ClientScope): boolean {
  return scope.kind === 'all';
}
