import type { FastifyBaseLogger } from 'fastify';
import type { OAuthError } from './errors.js';
import type { TokenSuccess } from './token.js';

/**
 * What the token endpoints tell the rest of Portier, as node-oidc-provider's `grant.success`
 * and `grant.error`: the route answers, and the listeners (usage, last used, metrics, the
 * audit trail, the log: oauth/token-listeners.ts) each do their part. The route knows none
 * of them.
 */

/** What every event says about the request. */
interface TokenEventRequest {
  /** The caller's address (TRUST_PROXY applied). */
  ip: string;
  /** The request's logger (its lines carry the request id). */
  log: FastifyBaseLogger;
  /** When the request reached the route, from `performance.now()`: for durations. */
  startedAt: number;
  /** When it was answered, from the server's clock (lib/clock.ts), in milliseconds. */
  now: number;
}

/** `token.issued`: POST /oauth/token issued a token. */
export interface TokenIssued extends TokenEventRequest {
  outcome: TokenSuccess;
}

/**
 * `token.refused`: a request to the token, introspection or revocation endpoint was
 * refused. `error` is the OAuth error it is answered with; undefined when the request
 * failed on our side (the error handler answers 500 server_error and logs the cause).
 */
export interface TokenRefused extends TokenEventRequest {
  /** The route's path (OAUTH_PATHS). */
  endpoint: string;
  error: OAuthError | undefined;
}

export interface TokenEventMap {
  'token.issued': TokenIssued;
  'token.refused': TokenRefused;
}

export type TokenListener<Name extends keyof TokenEventMap> = (event: TokenEventMap[Name]) => void;

/**
 * The listeners of the token endpoints, subscribed once at start. Dispatch is synchronous
 * over a fixed array: no emitter, promise or closure per request. A listener does not throw
 * and does not wait: what it writes goes to a queue that flushes on its own (the audit
 * trail, last_used_at, usage), so the answer never waits for it.
 */
export class TokenEvents {
  readonly #issued: TokenListener<'token.issued'>[] = [];
  readonly #refused: TokenListener<'token.refused'>[] = [];

  on(name: 'token.issued', listener: TokenListener<'token.issued'>): void;
  on(name: 'token.refused', listener: TokenListener<'token.refused'>): void;
  on(name: keyof TokenEventMap, listener: TokenListener<'token.issued'> | TokenListener<'token.refused'>): void {
    // One array per event: `issued` and `refused` are plain loops, no lookup by name per request.
    // The overloads above pair each name with its listener type; the casts only restate them.
    if (name === 'token.issued') this.#issued.push(listener as TokenListener<'token.issued'>);
    else this.#refused.push(listener as TokenListener<'token.refused'>);
  }

  issued(event: TokenIssued): void {
    for (const listener of this.#issued) listener(event);
  }

  refused(event: TokenRefused): void {
    for (const listener of this.#refused) listener(event);
  }
}
