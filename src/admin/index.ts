import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../lib/errors.js';
import { bodyValidator, textValidator } from '../lib/validation.js';
import type { AdminClientPrincipal, Principal } from '../people/principal.js';
import type { AdminArea } from '../people/scope.js';
import { auditRoutes } from './audit.js';
import { authenticateAdmin } from './auth.js';
import { clientActionRoutes } from './client-actions.js';
import { clientRoutes } from './clients.js';
import { configRoutes } from './config.js';
import { credentialRoutes, leakedCredentialRoutes } from './credentials.js';
import { eventRoutes } from './events.js';
import { keyRoutes } from './keys.js';
import { sendProblem } from './problems.js';
import { serviceRoutes } from './services.js';
import { sessionRoutes } from './sessions.js';
import { trustedIssuerRoutes } from './trusted-issuers.js';
import { webhookRoutes } from './webhooks.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set by the admin plugin's onRequest hook: an admin client or a person. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** The part of the admin API a route belongs to, for the rules of people/scope.ts (set per route file). */
    adminArea?: AdminArea;
  }
}

/**
 * /admin (registered with that prefix). What every admin route shares is set here, once:
 * every request is authenticated first (a Bearer token, or a person's console session:
 * admin/auth.ts), and refused when the caller's role may not touch the route's area at all
 * (people/scope.ts); bodies and parameters are validated against the
 * route's schemas (src/schemas/), and a bad one is a problem document naming the field;
 * every successful write moves the cache generation before the response leaves, so the
 * very next token request sees the change (other instances see it within a second). One
 * file per resource holds its routes, which translate HTTP to the plain functions of the
 * domain and back.
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;

  app.decorateRequest('principal', null as unknown as AdminClientPrincipal);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyValidator : textValidator).compile(schema));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`), reply),
  );
  app.addHook('onRequest', async (request) => {
    request.principal = await authenticateAdmin(
      portier.tokenEndpoint,
      portier.people,
      request,
      request.routeOptions.config?.adminArea,
      portier.clock(),
    );
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) {
      await portier.generation.catchUp();
      // The change wrote an event: its deliveries go out now rather than at the next look.
      portier.deliveries.nudge();
    }
  });

  await app.register(clientRoutes);
  await app.register(clientActionRoutes);
  await app.register(credentialRoutes);
  await app.register(leakedCredentialRoutes);
  await app.register(serviceRoutes);
  await app.register(trustedIssuerRoutes);
  await app.register(keyRoutes);
  await app.register(auditRoutes);
  await app.register(eventRoutes);
  await app.register(webhookRoutes);
  await app.register(configRoutes);
  await app.register(sessionRoutes);
};
