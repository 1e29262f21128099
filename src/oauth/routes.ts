import formbody from '@fastify/formbody';
import fastJsonStringify from 'fast-json-stringify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { trustedProxies } from '../lib/networks.js';
import type { QuotaStanding } from '../policy/quota.js';
import { MalformedCertificateHeader, type PresentedCertificate, readPresentedCertificate } from '../tls/client-certificate.js';
import { mutualTls } from './discovery.js';
import { OAUTH_PATHS, OAUTH_PREFIX } from './endpoints.js';
import { InvalidRequest, toOAuthError } from './errors.js';
import { handleIntrospection } from './introspection.js';
import type { IssuedToken } from './issue.js';
import { handleRevocation } from './revocation.js';
import { handleTokenRequest, type TokenRequest, type TokenSuccess } from './token.js';

/** Token requests are small; anything larger is refused before it is parsed (413). */
export const TOKEN_BODY_LIMIT = 64 * 1024;

/**
 * RFC 6749 §5.1: token responses (and our errors) must not be cached. Set in the onSend
 * hook every answer here passes through (errors, 404 and 405 included) rather than in an
 * onRequest hook of its own: one hook fewer for every request to run.
 */
function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/**
 * A success with nothing to say (a revocation's 200: RFC 7009 §2.2 says the client ignores
 * the body) still answers JSON, `{}`: clients that parse every answer as JSON (simple-oauth2
 * sends `Accept: application/json`) threw on an empty body, although the token was revoked.
 * A 204 keeps its empty body, as HTTP requires.
 */
function isEmptySuccess(reply: FastifyReply, payload: unknown): boolean {
  return (
    reply.statusCode >= 200 &&
    reply.statusCode < 300 &&
    reply.statusCode !== 204 &&
    (payload === undefined || payload === null || payload === '')
  );
}

const JSON_TYPE = 'application/json; charset=utf-8';

function emptyJson(reply: FastifyReply): string {
  reply.type(JSON_TYPE);
  return '{}';
}

/**
 * RFC 6749 §5.1's answer, written by a serializer compiled once (fast-json-stringify) rather
 * than by JSON.stringify walking a new object each time; a token exchange's answer carries
 * RFC 8693 §2.2.1's issued_token_type.
 */
const serializeTokenAnswer = fastJsonStringify({
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    issued_token_type: { type: 'string' },
    token_type: { type: 'string' },
    expires_in: { type: 'integer' },
    scope: { type: 'string' },
  },
  required: ['access_token', 'token_type', 'expires_in', 'scope'],
});

interface TokenAnswer {
  access_token: string;
  issued_token_type: string | undefined;
  token_type: string;
  expires_in: number;
  scope: string;
}

function tokenAnswer(token: IssuedToken, issuedTokenType: string | undefined): string {
  const answer: TokenAnswer = {
    access_token: token.accessToken,
    issued_token_type: issuedTokenType,
    token_type: token.tokenType,
    expires_in: token.expiresIn,
    scope: token.scope,
  };
  return serializeTokenAnswer(answer);
}

/** The RateLimit-* headers of a client that has a quota (draft-ietf-httpapi-ratelimit-headers). */
function setRateLimitHeaders(reply: FastifyReply, quota: QuotaStanding): void {
  reply
    .header('ratelimit-limit', String(quota.limit))
    .header('ratelimit-remaining', String(quota.remaining))
    .header('ratelimit-reset', String(quota.resetSeconds))
    .header('ratelimit-policy', quota.policy);
}

/** With neither TLS_CLIENT_CA_FILE nor CLIENT_CERT_HEADER, no request carries a certificate Portier asked for. */
const noCertificate = (): undefined => undefined;

/**
 * Reads a request's TLS client certificate: from the handshake, or from CLIENT_CERT_HEADER
 * when a trusted proxy sent it (tls/client-certificate.ts). The header from anyone else is
 * ignored, and audited as suspicious: a client trying to pass itself off with a certificate
 * it does not hold. A header that cannot be read is an invalid_request. Decided once: with
 * mutual TLS off, the reader does nothing (the handshake asks for no certificate and no
 * header is read), so it costs a request nothing.
 */
function certificateReader(portier: FastifyInstance['portier']): (request: FastifyRequest) => PresentedCertificate | undefined {
  if (!mutualTls(portier.config).certificates) return noCertificate;
  const isTrustedProxy = trustedProxies(portier.config.trustProxy);
  const header = portier.config.clientCertHeader;
  return (request) => {
    const socket = request.raw.socket;
    let reading: ReturnType<typeof readPresentedCertificate>;
    try {
      reading = readPresentedCertificate({
        socket,
        headers: request.headers,
        header,
        fromTrustedProxy: isTrustedProxy(socket.remoteAddress ?? ''),
      });
    } catch (error) {
      if (error instanceof MalformedCertificateHeader) throw new InvalidRequest(`unreadable client certificate header: ${error.message}`);
      throw error;
    }
    if (reading.untrustedHeader) {
      const reason = `${header} from ${socket.remoteAddress ?? 'an unknown address'}, which TRUST_PROXY does not trust: ignored`;
      const endpoint = request.routeOptions.url;
      portier.denials.record({ client: undefined, ip: request.ip, error: 'suspicious_certificate_header', reason, endpoint });
      portier.repeatedLog.warn(`certificate header ${socket.remoteAddress}`, { ip: request.ip }, reason);
    }
    return reading.presented;
  };
}

/**
 * POST /oauth/token, /oauth/introspect and /oauth/revoke. Encapsulated so that its parsers
 * apply here only: the body must be application/x-www-form-urlencoded; any other content
 * type, JSON and multipart included, is an invalid_request. Errors are written by the root
 * error handler (http/errors.ts) in RFC 6749 form, which every route here asks for.
 */
export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: TOKEN_BODY_LIMIT });
  app.addContentTypeParser('*', { bodyLimit: TOKEN_BODY_LIMIT }, (_request, _payload, done) => {
    done(new InvalidRequest('the token endpoint accepts application/x-www-form-urlencoded only'), undefined);
  });
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, errorFormat: 'oauth' };
  });
  // A callback rather than an async hook: it runs on every token response, and a promise per answer is waste.
  app.addHook('onSend', (_request, reply, payload, done) => {
    noStore(reply);
    done(null, isEmptySuccess(reply, payload) ? emptyJson(reply) : payload);
  });

  const { portier } = app;
  const ctx = portier.tokenEndpoint;
  const events = portier.tokenEvents;
  const { clock, tarpit } = portier;
  const presentedCertificate = certificateReader(portier);
  const tokenRequest = (request: FastifyRequest): TokenRequest => ({
    body: request.body,
    authorization: request.headers.authorization,
    dpop: request.headers.dpop,
    ip: request.ip,
    certificate: presentedCertificate(request),
  });

  /**
   * Tells the listeners (oauth/token-listeners.ts: usage, metrics, audit trail, log), holds
   * back an answer that costs nothing to make (see OAuthError.holdBackMs), then lets the
   * error handler answer.
   */
  const refused = async (request: FastifyRequest, reply: FastifyReply, error: unknown, startedAt: number): Promise<never> => {
    const oauthError = toOAuthError(error);
    events.refused({
      endpoint: request.routeOptions.url ?? '',
      error: oauthError,
      ip: request.ip,
      log: request.log,
      startedAt,
      now: clock(),
    });
    // Too many answers held already: this one goes now, and the connection closes after it.
    if (oauthError !== undefined && oauthError.holdBackMs > 0 && !(await tarpit.hold(oauthError.holdBackMs)))
      reply.header('connection', 'close');
    throw error;
  };

  app.post(OAUTH_PATHS.token, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    const startedAt = performance.now();
    let outcome: TokenSuccess;
    try {
      outcome = await handleTokenRequest(ctx, tokenRequest(request));
    } catch (error) {
      return refused(request, reply, error, startedAt);
    }
    events.issued({ outcome, ip: request.ip, log: request.log, startedAt, now: clock() });
    if (outcome.quota !== undefined) setRateLimitHeaders(reply, outcome.quota);
    if (outcome.dpopNonce !== undefined) reply.header('dpop-nonce', outcome.dpopNonce);
    return reply.type(JSON_TYPE).send(tokenAnswer(outcome.token, outcome.exchange?.issuedTokenType));
  });

  app.post(OAUTH_PATHS.introspection, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    const startedAt = performance.now();
    try {
      return await handleIntrospection(ctx, tokenRequest(request));
    } catch (error) {
      return refused(request, reply, error, startedAt);
    }
  });

  app.post(OAUTH_PATHS.revocation, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    const startedAt = performance.now();
    try {
      await handleRevocation(ctx, tokenRequest(request));
      return reply.status(200).send();
    } catch (error) {
      return refused(request, reply, error, startedAt);
    }
  });

  await app.register(unknownPaths, { prefix: OAUTH_PREFIX });
}

/**
 * Whatever no route takes under /oauth is answered with an RFC 6749 body as well: any
 * method but POST on these endpoints is a 405 (OPTIONS, TRACE, QUERY, and methods Fastify
 * has no routes for, such as PROPFIND, included), any other path a 404.
 */
async function unknownPaths(oauth: FastifyInstance): Promise<void> {
  const endpoints = new Set<string>(Object.values(OAUTH_PATHS));
  oauth.setNotFoundHandler(async (request, reply) => {
    const path = (request.url.split('?')[0] ?? '').replace(/\/$/, '');
    if (endpoints.has(path))
      return reply.status(405).header('allow', 'POST').send({ error: 'invalid_request', error_description: 'use POST' });
    return reply.status(404).send({ error: 'invalid_request', error_description: 'no such endpoint' });
  });
}
