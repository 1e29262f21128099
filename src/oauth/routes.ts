import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidClient, InvalidRequest, OAuthError, RequestTooLarge } from './errors.js';
import { handleIntrospection, handleRevocation } from './introspection.js';
import { handleTokenRequest } from './token.js';

/** Token requests are small; anything larger is refused before it is parsed (413). */
export const TOKEN_BODY_LIMIT = 64 * 1024;

/** RFC 6749 §5.1: token responses (and our errors) must not be cached. */
function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** Turns any error into an RFC 6749 §5.2 response; never shows a 5xx's message. */
export function sendOAuthError(error: FastifyError | OAuthError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const oauthError = toOAuthError(error);
  if (oauthError === undefined) {
    request.log.error({ err: error }, 'token endpoint failed');
    return reply.status(500).send({ error: 'server_error', error_description: 'internal error' });
  }
  if (oauthError instanceof InvalidClient && oauthError.triedBasic) {
    reply.header('www-authenticate', 'Basic realm="portier", charset="UTF-8"');
  }
  return reply.status(oauthError.status).send(oauthError.toJSON());
}

function toOAuthError(error: FastifyError | OAuthError): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new RequestTooLarge(`request body exceeds ${TOKEN_BODY_LIMIT / 1024} KiB`);
  // Other client errors Fastify raises while reading the request (bad content length, …).
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new InvalidRequest(error.message);
  return undefined;
}

/**
 * POST /oauth/token, /oauth/introspect and /oauth/revoke. Encapsulated so that its parsers and error handler apply here only:
 * the body must be application/x-www-form-urlencoded; any other content type, JSON and
 * multipart included, is an invalid_request.
 */
export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  await app.register(formbody, { bodyLimit: TOKEN_BODY_LIMIT });
  app.addContentTypeParser('*', { bodyLimit: TOKEN_BODY_LIMIT }, (_request, _payload, done) => {
    done(new InvalidRequest('the token endpoint accepts application/x-www-form-urlencoded only'), undefined);
  });
  app.addHook('onRequest', async (_request, reply) => noStore(reply));
  app.setErrorHandler(sendOAuthError);

  const { portier } = app;
  const ctx = portier.tokenEndpoint;

  /** Records a refused request (log and throttled audit trail), then lets the error handler answer. */
  const refused = (request: FastifyRequest, error: unknown): never => {
    if (error instanceof OAuthError) {
      const reason = error.detail ?? error.description;
      // The route's path, not request.url: a query string may carry a secret.
      portier.denials.record({ clientId: error.clientId, ip: request.ip, error: error.error, reason, endpoint: request.routeOptions.url });
      request.log.info({ client_id: error.clientId, error: error.error, reason }, 'request refused');
    }
    throw error;
  };
  const tokenRequest = (request: FastifyRequest) => ({ body: request.body, authorization: request.headers.authorization, ip: request.ip });

  const { tokenRequests, tokenDuration } = portier.metrics;
  app.post('/oauth/token', { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    const stopTimer = tokenDuration.startTimer();
    try {
      const { client, token } = await handleTokenRequest(ctx, tokenRequest(request));
      portier.usage.record(client.uuid);
      tokenRequests.inc({ outcome: 'issued' });
      request.log.debug({ client_id: client.clientId, jti: token.jti, scope: token.scope }, 'token issued');
      return reply.send({ access_token: token.accessToken, token_type: 'Bearer', expires_in: token.expiresIn, scope: token.scope });
    } catch (error) {
      tokenRequests.inc({ outcome: error instanceof OAuthError ? error.error : 'server_error' });
      return refused(request, error);
    } finally {
      stopTimer();
    }
  });

  app.post('/oauth/introspect', { bodyLimit: TOKEN_BODY_LIMIT }, async (request) => {
    try {
      return await handleIntrospection(ctx, tokenRequest(request));
    } catch (error) {
      return refused(request, error);
    }
  });

  app.post('/oauth/revoke', { bodyLimit: TOKEN_BODY_LIMIT }, async (request, reply) => {
    try {
      await handleRevocation(ctx, tokenRequest(request));
      return reply.status(200).send();
    } catch (error) {
      return refused(request, error);
    }
  });

  // Anything but POST on these endpoints: 405 with an RFC 6749 body.
  for (const url of ['/oauth/token', '/oauth/introspect', '/oauth/revoke']) {
    app.route({
      method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE'],
      url,
      handler: async (_request, reply) =>
        reply.status(405).header('allow', 'POST').send({ error: 'invalid_request', error_description: 'use POST' }),
    });
  }
}
