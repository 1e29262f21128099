import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { Actor } from '../audit/events.js';
import { listAuditEvents } from '../audit/list.js';
import { createClient, getClient } from '../clients/clients.js';
import { bulkSetEnabled, deleteClient, regenerateSecret, setClientEnabled, updateClient } from '../clients/lifecycle.js';
import { listClients } from '../clients/list.js';
import { emergencyRotation, requestRotation } from '../keys/rotation.js';
import { rotationSettings } from '../keys/settings.js';
import { listSigningKeys } from '../keys/signing-keys.js';
import { NotFoundError } from '../lib/errors.js';
import * as audit from '../schemas/audit.js';
import * as clients from '../schemas/clients.js';
import { problemResponse } from '../schemas/common.js';
import * as keys from '../schemas/keys.js';
import * as services from '../schemas/services.js';
import { createService, deleteService, getService, listServices, updateService } from '../services/services.js';
import { authenticateAdmin } from './auth.js';
import { sendProblem } from './problems.js';
import { bodyValidator, textValidator } from './validation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated admin, set by the admin plugin's onRequest hook. */
    admin: Actor;
  }
}

/** Admin bodies are small JSON documents; 256 KiB is generous and bounds validation work. */
const ADMIN_BODY_LIMIT = 256 * 1024;

const problems = { 400: problemResponse, 401: problemResponse, 403: problemResponse, 404: problemResponse, 409: problemResponse };
const secured = [{ bearerAuth: [] }];
/** A 204: nothing in the body. */
const noContent = Type.Unsafe<void>({ type: 'null', description: 'No content' });

/**
 * /admin (registered with that prefix): translates HTTP to the plain functions in
 * src/clients/ and back. Every route declares its schemas (src/schemas/): they validate
 * the request, type it, shape the response and make the OpenAPI document. Every request
 * is authenticated first; every successful write drops this instance's caches before the
 * response leaves, so the very next token request sees the change (other instances see it
 * through the cache generation within a second).
 */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;
  const actor = (request: FastifyRequest): Actor => ({ ...request.admin, ip: request.ip });

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

  // Clients
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
      const { client, clientSecret } = await createClient(db, request.body, actor(request), { now: portier.clock() });
      return reply.status(201).send(clientSecret === undefined ? client : { ...client, client_secret: clientSecret });
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
      const { client, clientSecret } = await updateClient(db, request.params.client_id, request.body, actor(request), portier.clock());
      return clientSecret === undefined ? client : { ...client, client_secret: clientSecret };
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

  // Services
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

  app.get('/services', { schema: { tags: ['services'], security: secured, response: { 200: services.serviceList } } }, async () => ({
    items: await listServices(db),
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
    async (request) => getService(db, request.params.id),
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

  // Signing keys (public parts only)
  app.get('/keys', { schema: { tags: ['keys'], security: secured, response: { 200: keys.keysResponse } } }, async () => ({
    items: await listSigningKeys(db),
  }));

  app.post(
    '/keys/rotate',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['keys'],
        security: secured,
        body: keys.rotateBody,
        response: { 200: keys.rotationResponse, 202: keys.rotationResponse, ...problems },
      },
    },
    async (request, reply) => {
      const rotate = request.body?.emergency === true ? emergencyRotation : requestRotation;
      const outcome = await rotate(portier.database, rotationSettings(portier.config), new Date(portier.clock()), actor(request));
      request.log.info(
        { kid: outcome.kid, status: outcome.status, withdrawn: outcome.withdrawn, actor: request.admin.clientId },
        request.body?.emergency === true ? 'emergency key rotation' : 'signing key rotation',
      );
      return reply.status(outcome.status === 'active' ? 200 : 202).send({
        kid: outcome.kid,
        status: outcome.status,
        activates_at: outcome.activatesAt.toISOString(),
        withdrawn: outcome.withdrawn,
        items: await listSigningKeys(db),
      });
    },
  );

  // Audit trail
  app.get(
    '/audit-events',
    { schema: { tags: ['audit'], security: secured, querystring: audit.auditQuery, response: { 200: audit.auditPage, ...problems } } },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      return listAuditEvents(db, filters, { limit, cursor });
    },
  );
};
