import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../lib/errors.js';
import * as sessions from '../schemas/sessions.js';
import { actor, inArea, noContent, problems, secured } from './route-options.js';

/** /admin/sessions: people signed in to the console (src/people/sessions.ts); admins end them. */
export const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  inArea(app, 'sessions');
  const store = () => {
    if (portier.people === undefined) throw new NotFoundError('people do not sign in to this Portier (OIDC_ISSUER is not set)');
    return portier.people.sessions;
  };

  app.get(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        security: secured,
        querystring: sessions.sessionsQuery,
        response: { 200: sessions.sessionPage, ...problems },
      },
    },
    async (request) => store().list(portier.clock(), request.query),
  );

  app.delete(
    '/sessions/:id',
    { schema: { tags: ['sessions'], security: secured, params: sessions.sessionParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await store().endById(request.params.id, actor(request));
      return reply.status(204).send();
    },
  );
};
