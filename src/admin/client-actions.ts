import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { credentialSettings } from '../clients/credentials.js';
import { bulkSetEnabled, regenerateSecret, setClientEnabled } from '../clients/lifecycle.js';
import { clientVisibilityOf } from '../people/scope.js';
import { readUsage } from '../policy/usage.js';
import * as clients from '../schemas/clients.js';
import { usageQuery, usageResponse } from '../schemas/policy.js';
import { ADMIN_BODY_LIMIT, actor, inArea, problems, secured } from './route-options.js';

/**
 * /admin/clients/…: what is done to clients beyond editing them: disable and enable (one,
 * or many at once), a new secret, and how much each is used. Each call gets the caller's scope (people/scope.ts).
 */
export const clientActionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;
  inArea(app, 'clients');

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
      async (request) =>
        setClientEnabled(
          db,
          request.params.client_id,
          action === 'enable',
          actor(request),
          portier.clock(),
          clientVisibilityOf(request.principal),
        ),
    );
  }

  app.post(
    '/clients/bulk',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: { tags: ['clients'], security: secured, body: clients.bulkBody, response: { 200: clients.bulkResponse, ...problems } },
    },
    async (request) => ({
      results: await bulkSetEnabled(
        db,
        request.body.client_ids,
        request.body.action === 'enable',
        actor(request),
        portier.clock(),
        clientVisibilityOf(request.principal),
      ),
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
        portier.clock(),
        credentialSettings(portier.config),
        clientVisibilityOf(request.principal),
      );
      return { client_id: request.params.client_id, client_secret: clientSecret, previous_secret_expires_at: previousSecretExpiresAt };
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
    async (request) =>
      readUsage(db, request.params.client_id, request.query.granularity ?? 'hour', portier.clock(), clientVisibilityOf(request.principal)),
  );
};
