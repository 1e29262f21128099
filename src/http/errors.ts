import { DrizzleQueryError } from 'drizzle-orm';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem, toProblem } from '../admin/problems.js';
import { databaseErrorKind, isDatabaseUnavailable } from '../db/errors.js';
import type { RepeatedLog } from '../lib/repeated-log.js';
import { quotedString } from '../lib/syntax.js';
import { type OAuthError, TemporarilyUnavailable, TooManyRequests, toOAuthError, UseDpopNonce } from '../oauth/errors.js';
import { Overloaded } from '../protection/admission.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * How this route writes its errors: RFC 6749 §5.2 JSON on the OAuth endpoints, RFC 9457
     * problem documents everywhere else (the default).
     */
    errorFormat?: 'oauth' | 'problem';
  }
}

/**
 * Requests under /oauth get RFC 6749 errors also where no route took them: an unknown path
 * or method there (whose body is still parsed), or a URL the router could not read.
 */
const OAUTH_PATH = /^\/oauth(?:[/?]|$)/;

/**
 * The one error handler, for every route: whatever a route, hook or parser throws ends
 * here. A database that cannot be reached (or a full verification queue) is a 503 with
 * Retry-After; a failure of our own is a 500 whose body never carries its message (which
 * may hold SQL text, query parameters or a stack). Server-side failures are logged at
 * most once a second per kind (see RepeatedLog), so an outage cannot flood the log.
 */
export function createErrorHandler(log: RepeatedLog) {
  return function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const oauth = request.routeOptions.config?.errorFormat === 'oauth' || OAUTH_PATH.test(request.url);
    const known = oauth ? toOAuthError(error) : undefined;
    const status = known?.status ?? (oauth ? 500 : toProblem(error).status);
    if (isDatabaseUnavailable(error)) {
      log.warn(`database unavailable: ${databaseErrorKind(error)}`, {}, 'database unavailable: answering 503');
    } else if (error instanceof Overloaded) {
      log.warn('argon2 queue full', {}, 'argon2 verification queue full: answering 503');
    } else if (error instanceof TemporarilyUnavailable) {
      // Thrown as such (the issuance hook failed): the reason is known, no stack needed.
      log.warn(`unavailable: ${error.detail ?? error.description}`, {}, `answering 503: ${error.detail ?? error.description}`);
    } else if (status >= 500) {
      log.error(`failed: ${failureKind(error)}`, { err: error, url: request.routeOptions.url }, 'request failed');
    }
    if (!oauth) return sendProblem(error, reply);
    if (known === undefined) return reply.status(500).send({ error: 'server_error', error_description: 'internal error' });
    return sendOAuthError(known, reply, request.headers.authorization !== undefined);
  };
}

/**
 * The challenge of a 401 at /oauth for a client that tried HTTP Basic. It carries the
 * OAuth error and the same public description as the body, quoted (RFC 9110 §5.6.4), as
 * node-oidc-provider does: a library that reads the challenge rather than the body
 * (oauth4webapi, openid-client) still learns `invalid_client`.
 */
export function basicChallenge(error: OAuthError): string {
  return `Basic realm="portier", error=${quotedString(error.error)}, error_description=${quotedString(error.description)}`;
}

/**
 * An RFC 6749 §5.2 answer, with the headers its status needs. `authorizationSent`: the
 * request carried an Authorization header (which at /oauth means HTTP Basic: any other
 * scheme is refused with a 400 before authentication).
 */
export function sendOAuthError(error: OAuthError, reply: FastifyReply, authorizationSent: boolean): FastifyReply {
  // RFC 6749 §5.1, also for errors raised before the OAuth routes' hooks run (a URL the router cannot read).
  reply.header('cache-control', 'no-store');
  // RFC 6749 §5.2: a 401 carries the challenge of the scheme the client tried in the
  // Authorization header. A client that authenticated otherwise (in the body, or with an
  // assertion) gets invalid_client as a 400 with the JSON body alone (see InvalidClient).
  // What comes depends only on what the caller sent, so it tells nothing about which part of
  // its credentials was wrong.
  const status = error.statusFor(authorizationSent);
  if (status === 401 && authorizationSent) reply.header('www-authenticate', basicChallenge(error));
  if (error instanceof TooManyRequests || error instanceof TemporarilyUnavailable) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  }
  if (error instanceof UseDpopNonce) reply.header('dpop-nonce', error.nonce);
  return reply.status(status).send(error.toJSON());
}

/** What kind of failure this is, without query text or parameters (Drizzle puts both in its messages). */
function failureKind(error: Error): string {
  return error instanceof DrizzleQueryError ? `database: ${databaseErrorKind(error)}` : `${error.name}: ${error.message.slice(0, 80)}`;
}
