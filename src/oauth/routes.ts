import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ExchangeRecorder } from '../audit/exchanges.js';
import type { GrantedService } from '../clients/record.js';
import { trustedProxies } from '../lib/networks.js';
import { clientFields } from '../lib/redact.js';
import type { QuotaStanding } from '../policy/quota.js';
import { MalformedCertificateHeader, type PresentedCertificate, readPresentedCertificate } from '../tls/client-certificate.js';
import { OAUTH_PATHS, OAUTH_PREFIX } from './endpoints.js';
import { InvalidRequest, QuotaExceeded, TemporarilyUnavailable, TooManyRequests, toOAuthError, UseDpopNonce } from './errors.js';
import { handleIntrospection } from './introspection.js';
import type { IssuedToken } from './issue.js';
import { handleRevocation } from './revocation.js';
import { handleTokenRequest, type TokenSuccess } from './token.js';

/** Token requests are small; anything larger is refused before it is parsed (413). */
export const TOKEN_BODY_LIMIT = 64 * 1024;

/** RFC 6749 §5.1: token responses (and our errors) must not be cached. */
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

function emptyJson(reply: FastifyReply): string {
  reply.type('application/json; charset=utf-8');
  return '{}';
}

/** RFC 6749 §5.1's answer; for a token exchange with RFC 8693 §2.2.1's issued_token_type. */
function tokenAnswer(token: IssuedToken, issuedTokenType: string | undefined): Record<string, string | number> {
  return {
    access_token: token.accessToken,
    ...(issuedTokenType !== undefined && { issued_token_type: issuedTokenType }),
    token_type: token.tokenType,
    expires_in: token.expiresIn,
    scope: token.scope,
  };
}

/** A token exchange that issued a token goes to the audit trail (summarised, see audit/exchanges.ts). */
function recordExchange(
  exchanges: ExchangeRecorder,
  actor: string,
  services: GrantedService[],
  scope: string,
  exchange: NonNullable<TokenSuccess['exchange']>,
  ip: string,
): void {
  exchanges.record({
    subject: exchange.subject,
    subjectClientId: exchange.subjectClientId,
    actor,
    target: services.map((service) => service.serviceId),
    scopes: scope === '' ? [] : scope.split(' '),
    chain: exchange.chain,
    ip,
  });
}

/** The RateLimit-* headers of a client that has a quota (draft-ietf-httpapi-ratelimit-headers). */
function setRateLimitHeaders(reply: FastifyReply, quota: QuotaStanding): void {
  reply
    .header('ratelimit-limit', String(quota.limit))
    .header('ratelimit-remaining', String(quota.remaining))
    .header('ratelimit-reset', String(quota.resetSeconds))
    .header('ratelimit-policy', quota.policy);
}

/**
 * Reads a request's TLS client certificate: from the handshake, or from CLIENT_CERT_HEADER
 * when a trusted proxy sent it (tls/client-certificate.ts). The header from anyone else is
 * ignored, and audited as suspicious: a client trying to pass itself off with a certificate
 * it does not hold. A header that cannot be read is an invalid_request.
 */
function certificateReader(portier: FastifyInstance['portier']): (request: FastifyRequest) => PresentedCertificate | undefined {
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
  app.addHook('onRequest', async (_request, reply) => noStore(reply));
  // A callback rather than an async hook: it runs on every token response, and a promise per answer is waste.
  app.addHook('onSend', (_request, reply, payload, done) => done(null, isEmptySuccess(reply, payload) ? emptyJson(reply) : payload));

  const { portier } = app;
  const ctx = portier.tokenEndpoint;

  /**
   * Records a refusal (log and throttled audit trail), holds back an answer that costs
   * nothing to make (see OAuthError.holdBackMs), then lets the error handler answer. A
   * nonce challenge (DPOP_NONCE=true) is part of the protocol, the first answer most DPoP
   * clients get, and a 503 is no refusal of the client (the error handler logs its cause,
   * once a second at most): neither is recorded (the metrics count them).
   */
  const refused = async (request: FastifyRequest, reply: FastifyReply, error: unknown): Promise<never> => {
    const oauthError = toOAuthError(error);
    if (oauthError === undefined) throw error;
    const endpoint = request.routeOptions.url;
    // Usage per client: a token request naming a client that exists, refused for any reason
    // but the nonce challenge, which is a step of the protocol.
    if (
      endpoint === OAUTH_PATHS.token &&
      oauthError.client !== undefined &&
      'clientId' in oauthError.client &&
      !(oauthError instanceof UseDpopNonce)
    ) {
      portier.usage.refused(oauthError.client.clientId, portier.clock());
    }
    if (!(oauthError instanceof UseDpopNonce) && !(oauthError instanceof TemporarilyUnavailable)) {
      const reason = oauthError.detail ?? oauthError.description;
      const presentedClientId = oauthError instanceof TooManyRequests ? oauthError.presentedClientId() : undefined;
      portier.denials.record({ client: oauthError.client, ip: request.ip, error: oauthError.error, reason, endpoint, presentedClientId });
      if (oauthError instanceof QuotaExceeded) {
        portier.repeatedLog.warn(`quota ${clientFields(oauthError.client).client_id}`, clientFields(oauthError.client), reason);
      } else if (oauthError instanceof TooManyRequests) {
        portier.repeatedLog.warn(`throttled ${request.ip}`, { ip: request.ip, endpoint }, 'caller over its failure budget');
      } else {
        // The same refusal over and over (a flood of wrong secrets, hook denials): one line
        // a second with a count, per client (or, naming none, per address), error and reason.
        const fields = clientFields(oauthError.client);
        const who = fields.client_id ?? `address ${request.ip}`;
        portier.repeatedLog.info(
          `refused ${who} ${oauthError.error} ${reason}`,
          { ...fields, error: oauthError.error, reason },
          'request refused',
        );
      }
    }
    // Too many answers held already: this one goes now, and the connection closes after it.
    if (oauthError.holdBackMs > 0 && !(await portier.tarpit.hold(oauthError.holdBackMs))) reply.header('connection', 'close');
    throw error;
  };
  const presentedCertificate = certificateReader(portier);
  const tokenRequest = (request: FastifyRequest) => ({
    body: request.body,
    authorization: request.headers.authorization,
    ip: request.ip,
    certificate: presentedCertificate(request),
  });

  const { tokenRequests, tokenDuration } = portier.metrics;
  app.post(OAUTH_PATHS.token, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    const stopTimer = tokenDuration.startTimer();
    try {
      const { client, identity, credentialId, services, token, dpopNonce, quota, exchange } = await handleTokenRequest(ctx, {
        ...tokenRequest(request),
        dpop: request.headers.dpop,
      });
      stopTimer();
      portier.lastUsed.record(client.uuid, new Date(portier.clock()), identity, credentialId);
      portier.usage.issued(client.clientId, portier.clock());
      if (quota !== undefined) setRateLimitHeaders(reply, quota);
      tokenRequests.inc({ outcome: 'issued' });
      request.log.debug({ client_id: client.clientId, jti: token.jti, scope: token.scope }, 'token issued');
      if (dpopNonce !== undefined) reply.header('dpop-nonce', dpopNonce);
      if (exchange !== undefined) recordExchange(portier.exchanges, client.clientId, services, token.scope, exchange, request.ip);
      return reply.send(tokenAnswer(token, exchange?.issuedTokenType));
    } catch (error) {
      // Timed before a throttled answer is held back: the histogram is about our work.
      stopTimer();
      tokenRequests.inc({ outcome: toOAuthError(error)?.error ?? 'server_error' });
      return refused(request, reply, error);
    }
  });

  app.post(OAUTH_PATHS.introspection, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    try {
      return await handleIntrospection(ctx, tokenRequest(request));
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  app.post(OAUTH_PATHS.revocation, { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    try {
      await handleRevocation(ctx, tokenRequest(request));
      return reply.status(200).send();
    } catch (error) {
      return refused(request, reply, error);
    }
  });

  // Whatever no route takes under /oauth is answered with an RFC 6749 body as well: any
  // method but POST on these endpoints is a 405 (OPTIONS, TRACE, QUERY, and methods Fastify
  // has no routes for, such as PROPFIND, included), any other path a 404.
  const endpoints = new Set<string>(Object.values(OAUTH_PATHS));
  await app.register(
    async (oauth) => {
      oauth.setNotFoundHandler(async (request, reply) => {
        const path = (request.url.split('?')[0] ?? '').replace(/\/$/, '');
        if (endpoints.has(path))
          return reply.status(405).header('allow', 'POST').send({ error: 'invalid_request', error_description: 'use POST' });
        return reply.status(404).send({ error: 'invalid_request', error_description: 'no such endpoint' });
      });
    },
    { prefix: OAUTH_PREFIX },
  );
}
