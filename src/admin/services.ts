import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { seesSelfServiceOnly } from '../people/scope.js';
import * as services from '../schemas/services.js';
import { createService, deleteService, getService, listServices, updateService } from '../services/services.js';
import { ADMIN_BODY_LIMIT, actor, inArea, noContent, problems, secured } from './route-options.js';

/** /admin/services: the catalogue clients are granted from (src/services/); operators see the self-service part. */
export const serviceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.portier;
  inArea(app, 'services');

  app.post(
    '/services',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['services'],
        security: secured,
        body: services.createServiceBody,
        response: { 201: services.serviceResource, ...problems },
      },
    },
    async (request, reply) => reply.status(201).send(await createService(db, request.body, actor(request))),
  );

  app.get('/services', { schema: { tags: ['services'], security: secured, response: { 200: services.serviceList } } }, async (request) => ({
    items: await listServices(db, { selfServiceOnly: seesSelfServiceOnly(request.principal) }),
  }));

  app.get(
    '/services/:id',
    {
      schema: {
        tags: ['services'],
        security: secured,
        params: services.serviceParams,
        response: { 200: services.serviceResource, ...problems },
      },
    },
    async (request) => getService(db, request.params.id, { selfServiceOnly: seesSelfServiceOnly(request.principal) }),
  );

  app.patch(
    '/services/:id',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['services'],
        security: secured,
        params: services.serviceParams,
        body: services.patchServiceBody,
        response: { 200: services.serviceResource, ...problems },
      },
    },
    async (request) => updateService(db, request.params.id, request.body, actor(request)),
  );

  app.delete(
    '/services/:id',
    { schema: { tags: ['services'], security: secured, params: services.serviceParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await deleteService(db, request.params.id, actor(request));
      return reply.status(204).send();
    },
  );
};
