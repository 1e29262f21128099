import { isValidClientId, serviceAccountUsername } from '../clients/rules.js';

/**
 * The delegation claims of RFC 8693 as Portier writes them: `act` (§4.1), naming the client
 * that acts, with the actors before it nested inside; `may_act` (§4.4), naming the clients
 * that may act for a token's client. The rules of the exchange itself are in
 * grants/token-exchange.ts; this is their form, shared with the access-token check.
 */

/** `act`: the acting client (`sub` its service account's username) and, nested, the actor before it. */
export interface ActClaim {
  sub: string;
  client_id: string;
  act?: ActClaim;
}

/**
 * `may_act` as written: one client as `{sub, client_id}` (the form `act` will have, as
 * RFC 8693 §4.4's example), several as `{client_id: [...]}`.
 */
export type MayActClaim = { sub: string; client_id: string } | { client_id: string[] };

/** The deepest `act` nesting read at all: far beyond any TOKEN_EXCHANGE_MAX_DEPTH allowed. */
const MAX_READ_DEPTH = 16;

/** The `act` claim that names `clientId` as the actor, with the chain so far inside it. */
export function actClaim(clientId: string, before: ActClaim | undefined): ActClaim {
  return { sub: serviceAccountUsername(clientId), client_id: clientId, ...(before !== undefined && { act: before }) };
}

/** How many actors a chain has: 0 without `act`. */
export function actDepth(act: ActClaim | undefined): number {
  let depth = 0;
  for (let level = act; level !== undefined; level = level.act) depth += 1;
  return depth;
}

/** The actors' client_ids, the latest first. */
export function actChain(act: ActClaim | undefined): string[] {
  const chain: string[] = [];
  for (let level = act; level !== undefined; level = level.act) chain.push(level.client_id);
  return chain;
}

/** The `may_act` claim for a client's list, or undefined for none. */
export function mayActClaim(clientIds: readonly string[] | null): MayActClaim | undefined {
  if (clientIds === null || clientIds.length === 0) return undefined;
  const [only] = clientIds;
  if (clientIds.length === 1 && only !== undefined) return { sub: serviceAccountUsername(only), client_id: only };
  return { client_id: [...clientIds] };
}

/** The client_ids a `may_act` claim allows. */
export function mayActClientIds(claim: MayActClaim): string[] {
  return Array.isArray(claim.client_id) ? claim.client_id : [claim.client_id];
}

/**
 * An `act` claim of the form Portier writes, or null for any other: every level an object
 * with exactly `sub` (the service account's username of) and `client_id` (a client_id), and
 * optionally `act`; at most MAX_READ_DEPTH levels. Undefined when there is none.
 */
export function readActClaim(value: unknown): ActClaim | undefined | null {
  if (value === undefined) return undefined;
  const levels: Array<{ sub: string; client_id: string }> = [];
  let level: unknown = value;
  while (level !== undefined) {
    if (levels.length >= MAX_READ_DEPTH) return null;
    if (typeof level !== 'object' || level === null || Array.isArray(level)) return null;
    const { sub, client_id: clientId, act, ...rest } = level as Record<string, unknown>;
    if (Object.keys(rest).length > 0) return null;
    if (typeof clientId !== 'string' || !isValidClientId(clientId) || sub !== serviceAccountUsername(clientId)) return null;
    levels.push({ sub, client_id: clientId });
    level = act;
  }
  let claim: ActClaim | undefined;
  for (let i = levels.length - 1; i >= 0; i -= 1) {
    const { sub, client_id } = levels[i] as { sub: string; client_id: string };
    claim = { sub, client_id, ...(claim !== undefined && { act: claim }) };
  }
  return claim;
}

/** A `may_act` claim of the form Portier writes, or null for any other; undefined when there is none. */
export function readMayActClaim(value: unknown): MayActClaim | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { sub, client_id: clientId, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return null;
  if (Array.isArray(clientId)) {
    if (sub !== undefined || clientId.length < 2 || clientId.length > 20) return null;
    return clientId.every((id) => typeof id === 'string' && isValidClientId(id)) ? { client_id: clientId as string[] } : null;
  }
  if (typeof clientId !== 'string' || !isValidClientId(clientId) || sub !== serviceAccountUsername(clientId)) return null;
  return { sub, client_id: clientId };
}
