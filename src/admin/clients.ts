import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createClient, getClient } from '../clients/clients.js';
import { credentialSettings } from '../clients/credentials.js';
import { deleteClient, updateClient } from '../clients/lifecycle.js';
import { listClients } from '../clients/list.js';
import { withClientSecret } from '../clients/resource.js';
import { NotFoundError } from '../lib/errors.js';
import { clientVisibilityOf } from '../people/scope.js';
import * as clients from '../schemas/clients.js';
import { ADMIN_BODY_LIMIT, actor, inArea, noContent, problems, secured } from './route-options.js';

/**
 * /admin/clients: the client resource (src/clients/): create, list, read, change, delete;
 * what is done to a client beyond that is in client-actions.ts. Each call gets the
 * caller's scope (people/scope.ts): every client, or an operator's own.
 */
export const clientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;
  inArea(app, 'clients');

  app.post(
    '/clients',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['clients'],
        security: secured,
        body: clients.createClientBody,
        response: { 201: clients.createdClientResource, ...problems },
      },
    },
    async (request, reply) => {
      const created = await createClient(db, request.body, actor(request), {
        now: portier.clock(),
        scope: clientVisibilityOf(request.principal),
        secretPrefix: portier.config.secretPrefix,
        maxLifetimeDays: portier.config.credentialMaxLifetimeDays,
        maxCredentialsPerClient: portier.config.maxCredentialsPerClient,
      });
      return reply.status(201).send(withClientSecret(created));
    },
  );

  app.get(
    '/clients',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        querystring: clients.listClientsQuery,
        response: { 200: clients.clientPage, ...problems },
      },
    },
    async (request) => {
      const { limit, cursor, sort, ...filters } = request.query;
      const page = await listClients(db, filters, { limit, cursor, sort }, portier.clock(), clientVisibilityOf(request.principal));
      return { ...page, items: page.items.map((client) => portier.lastUsed.withPendingUse(client)) };
    },
  );

  app.get(
    '/clients/:client_id',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        params: clients.clientParams,
        response: { 200: clients.clientResource, ...problems },
      },
    },
    async (request) => {
      const client = await getClient(db, request.params.client_id, portier.clock(), clientVisibilityOf(request.principal));
      if (client === undefined) throw new NotFoundError(`no client with client_id "${request.params.client_id}"`);
      return portier.lastUsed.withPendingUse(client);
    },
  );

  app.patch(
    '/clients/:client_id',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['clients'],
        security: secured,
        params: clients.clientParams,
        body: clients.patchClientBody,
        response: { 200: clients.updatedClientResource, ...problems },
      },
    },
    async (request) => {
      const scope = clientVisibilityOf(request.principal);
      return withClientSecret(
        await updateClient(
          db,
          request.params.client_id,
          request.body,
          actor(request),
          portier.clock(),
          scope,
          credentialSettings(portier.config),
        ),
      );
    },
  );

  app.delete(
    '/clients/:client_id',
    { schema: { tags: ['clients'], security: secured, params: clients.clientParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await deleteClient(db, request.params.client_id, actor(request), clientVisibilityOf(request.principal));
      return reply.status(204).send();
    },
  );
};
