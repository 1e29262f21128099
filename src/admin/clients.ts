import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createClient, getClient, withClientSecret } from '../clients/clients.js';
import { bulkSetEnabled, deleteClient, regenerateSecret, setClientEnabled, updateClient } from '../clients/lifecycle.js';
import { listClients } from '../clients/list.js';
import { NotFoundError } from '../lib/errors.js';
import { readUsage } from '../policy/usage.js';
import * as clients from '../schemas/clients.js';
import { usageQuery, usageResponse } from '../schemas/policy.js';
import { ADMIN_BODY_LIMIT, actor, noContent, problems, secured } from './route-options.js';

/** /admin/clients: the client lifecycle (src/clients/). */
export const clientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;

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
      const created = await createClient(db, request.body, actor(request), { now: portier.clock() });
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
      const { limit, cursor, ...filters } = request.query;
      return listClients(db, filters, { limit, cursor }, portier.clock());
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
      const client = await getClient(db, request.params.client_id, portier.clock());
      if (client === undefined) throw new NotFoundError(`no client with client_id "${request.params.client_id}"`);
      return client;
    },
  );

  app.get(
    '/clients/:client_id/usage',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        description:
          'Tokens issued and token requests refused, per UTC hour (the last 48) or day (the last 90), oldest first. ' +
          'Each instance writes its counts about once a minute.',
        params: clients.clientParams,
        querystring: usageQuery,
        response: { 200: usageResponse, ...problems },
      },
    },
    async (request) => readUsage(db, request.params.client_id, request.query.granularity ?? 'hour', portier.clock()),
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
      return withClientSecret(await updateClient(db, request.params.client_id, request.body, actor(request), portier.clock()));
    },
  );

  app.delete(
    '/clients/:client_id',
    { schema: { tags: ['clients'], security: secured, params: clients.clientParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await deleteClient(db, request.params.client_id, actor(request));
      return reply.status(204).send();
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    app.post(
      `/clients/:client_id/${action}`,
      {
        schema: {
          tags: ['clients'],
          security: secured,
          params: clients.clientParams,
          response: { 200: clients.clientResource, ...problems },
        },
      },
      async (request) => setClientEnabled(db, request.params.client_id, action === 'enable', actor(request), portier.clock()),
    );
  }

  app.post(
    '/clients/bulk',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: { tags: ['clients'], security: secured, body: clients.bulkBody, response: { 200: clients.bulkResponse, ...problems } },
    },
    async (request) => ({
      results: await bulkSetEnabled(db, request.body.client_ids, request.body.action === 'enable', actor(request), portier.clock()),
    }),
  );

  app.post(
    '/clients/:client_id/secret',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        params: clients.clientParams,
        body: clients.regenerateSecretBody,
        response: { 200: clients.regeneratedSecret, ...problems },
      },
    },
    async (request) => {
      const { clientSecret, previousSecretExpiresAt } = await regenerateSecret(
        db,
        request.params.client_id,
        request.body?.previous_secret_valid_for ?? 0,
        actor(request),
      );
      return { client_id: request.params.client_id, client_secret: clientSecret, previous_secret_expires_at: previousSecretExpiresAt };
    },
  );
};
