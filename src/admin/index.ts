import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Actor } from '../audit/events.js';
import { NotFoundError } from '../lib/errors.js';
import { bodyValidator, textValidator } from '../lib/validation.js';
import { auditRoutes } from './audit.js';
import { authenticateAdmin } from './auth.js';
import { clientRoutes } from './clients.js';
import { configRoutes } from './config.js';
import { keyRoutes } from './keys.js';
import { sendProblem } from './problems.js';
import { serviceRoutes } from './services.js';
import { trustedIssuerRoutes } from './trusted-issuers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated admin, set by the admin plugin's onRequest hook. */
    admin: Actor;
  }
}

/**
 * /admin (registered with that prefix). What every admin route shares is set here, once:
 * every request is authenticated first; bodies and parameters are validated against the
 * route's schemas (src/schemas/), and a bad one is a problem document naming the field;
 * every successful write moves the cache generation before the response leaves, so the
 * very next token request sees the change (other instances see it within a second). One
 * file per resource holds its routes, which translate HTTP to the plain functions of the
 * domain and back.
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;

  app.decorateRequest('admin', null as unknown as Actor);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyValidator : textValidator).compile(schema));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`), reply),
  );
  app.addHook('onRequest', async (request) => {
    request.admin = await authenticateAdmin(portier.tokenEndpoint, request.headers.authorization, request.method);
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) portier.generation.changed();
  });

  await app.register(clientRoutes);
  await app.register(serviceRoutes);
  await app.register(trustedIssuerRoutes);
  await app.register(keyRoutes);
  await app.register(auditRoutes);
  await app.register(configRoutes);
};
