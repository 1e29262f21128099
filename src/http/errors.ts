import { DrizzleQueryError } from 'drizzle-orm';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem, toProblem } from '../admin/problems.js';
import { databaseErrorKind, isDatabaseUnavailable } from '../db/errors.js';
import type { RepeatedLog } from '../lib/repeated-log.js';
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
    return sendOAuthError(known, reply);
  };
}

/** The challenge of every 401 at /oauth: client authentication, HTTP Basic among the methods. */
export const CLIENT_CHALLENGE = 'Basic realm="portier", charset="UTF-8"';

/** An RFC 6749 §5.2 answer, with the headers its status needs. */
export function sendOAuthError(error: OAuthError, reply: FastifyReply): FastifyReply {
  // RFC 6749 §5.1, also for errors raised before the OAuth routes' hooks run (a URL the router cannot read).
  reply.header('cache-control', 'no-store');
  // RFC 9110 §15.5.2: every 401 carries a challenge. RFC 6749 §5.2 asks for the scheme the
  // client tried when it used the Authorization header; for the other methods (post,
  // assertions) the same Basic challenge names a scheme this server accepts, and one
  // answer for every method tells an attacker nothing about which one was wrong.
  if (error.status === 401) reply.header('www-authenticate', CLIENT_CHALLENGE);
  if (error instanceof TooManyRequests || error instanceof TemporarilyUnavailable) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  }
  if (error instanceof UseDpopNonce) reply.header('dpop-nonce', error.nonce);
  return reply.status(error.status).send(error.toJSON());
}

/** What kind of failure this is, without query text or parameters (Drizzle puts both in its messages). */
function failureKind(error: Error): string {
  return error instanceof DrizzleQueryError ? `database: ${databaseErrorKind(error)}` : `${error.name}: ${error.message.slice(0, 80)}`;
}
