import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../audit/events.js';
import { listAuditEvents, type AuditFilters } from '../audit/list.js';
import { createClient, type CreateClientInput, getClient } from '../clients/clients.js';
import { NotFoundError } from '../clients/errors.js';
import {
  bulkSetEnabled,
  type ClientPatch,
  deleteClient,
  regenerateSecret,
  setClientEnabled,
  updateClient,
} from '../clients/lifecycle.js';
import { type ClientFilters, listClients } from '../clients/list.js';
import { createService, deleteService, getService, listServices, type ServiceInput, type ServicePatch, updateService } from '../clients/services.js';
import { listSigningKeys, rotateSigningKey } from '../oauth/keys.js';
import { authenticateAdmin } from './auth.js';
import { sendProblem } from './problems.js';
import * as s from './schemas.js';
import { bodyValidator, textValidator } from './validation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated admin, set by the admin plugin's onRequest hook. */
    admin: Actor;
  }
}

/** Admin bodies are small JSON documents; 256 KiB is generous and bounds validation work. */
const ADMIN_BODY_LIMIT = 256 * 1024;

const problems = { 400: s.problemResponse, 401: s.problemResponse, 403: s.problemResponse, 404: s.problemResponse, 409: s.problemResponse };
const secured = [{ bearerAuth: [] }];

type ClientParams = { Params: { client_id: string } };
type ServiceParams = { Params: { id: string } };

/**
 * /admin (registered with that prefix): translates HTTP to the plain functions in src/clients/ and back. Every request is
 * authenticated first; every successful write drops this instance's caches before the
 * response leaves, so the very next token request sees the change (other instances see it
 * through the cache generation within a second).
 */
export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const { portier } = app;
  const { db } = portier;
  const actor = (request: FastifyRequest): Actor => ({ ...request.admin, ip: request.ip });

  app.decorateRequest('admin', null as unknown as Actor);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyValidator : textValidator).compile(schema));
  app.setNotFoundHandler((request, reply) => sendProblem(new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`), reply));
  app.addHook('onRequest', async (request) => {
    request.admin = await authenticateAdmin(portier, request.headers.authorization, request.method);
  });
  app.addHook('onSend', async (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400) portier.generation.changed();
  });

  // Clients
  app.post<{ Body: CreateClientInput }>(
    '/clients',
    { bodyLimit: ADMIN_BODY_LIMIT, schema: { tags: ['clients'], security: secured, body: s.createClientBody, response: { 201: s.createdClientResource, ...problems } } },
    async (request, reply) => {
      const { client, clientSecret } = await createClient(db, { ...request.body, secret: undefined }, actor(request));
      return reply.status(201).send(clientSecret === undefined ? client : { ...client, client_secret: clientSecret });
    },
  );

  app.get<{ Querystring: ClientFilters & { limit?: number; cursor?: string } }>(
    '/clients',
    { schema: { tags: ['clients'], security: secured, querystring: s.listClientsQuery, response: { 200: s.clientPage, ...problems } } },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      return listClients(db, filters, { limit, cursor });
    },
  );

  app.get<ClientParams>(
    '/clients/:client_id',
    { schema: { tags: ['clients'], security: secured, params: s.clientParams, response: { 200: s.clientResource, ...problems } } },
    async (request) => {
      const client = await getClient(db, request.params.client_id);
      if (client === undefined) throw new NotFoundError(`no client with client_id "${request.params.client_id}"`);
      return client;
    },
  );

  app.patch<ClientParams & { Body: ClientPatch }>(
    '/clients/:client_id',
    { bodyLimit: ADMIN_BODY_LIMIT, schema: { tags: ['clients'], security: secured, params: s.clientParams, body: s.patchClientBody, response: { 200: s.clientResource, ...problems } } },
    async (request) => updateClient(db, request.params.client_id, request.body, actor(request)),
  );

  app.delete<ClientParams>(
    '/clients/:client_id',
    { schema: { tags: ['clients'], security: secured, params: s.clientParams, response: { 204: { type: 'null' }, ...problems } } },
    async (request, reply) => {
      await deleteClient(db, request.params.client_id, actor(request));
      return reply.status(204).send();
    },
  );

  for (const action of ['disable', 'enable'] as const) {
    app.post<ClientParams>(
      `/clients/:client_id/${action}`,
      { schema: { tags: ['clients'], security: secured, params: s.clientParams, response: { 200: s.clientResource, ...problems } } },
      async (request) => setClientEnabled(db, request.params.client_id, action === 'enable', actor(request)),
    );
  }

  app.post<{ Body: { action: 'enable' | 'disable'; client_ids: string[] } }>(
    '/clients/bulk',
    { bodyLimit: ADMIN_BODY_LIMIT, schema: { tags: ['clients'], security: secured, body: s.bulkBody, response: { 200: s.bulkResponse, ...problems } } },
    async (request) => ({
      results: await bulkSetEnabled(db, request.body.client_ids, request.body.action === 'enable', actor(request)),
    }),
  );

  app.post<ClientParams & { Body: { previous_secret_valid_for?: number } | undefined }>(
    '/clients/:client_id/secret',
    { schema: { tags: ['clients'], security: secured, params: s.clientParams, body: s.regenerateSecretBody, response: { 200: s.regeneratedSecret, ...problems } } },
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
  app.post<{ Body: ServiceInput }>(
    '/services',
    { bodyLimit: ADMIN_BODY_LIMIT, schema: { tags: ['services'], security: secured, body: s.createServiceBody, response: { 201: s.serviceResource, ...problems } } },
    async (request, reply) => reply.status(201).send(await createService(db, request.body, actor(request))),
  );

  app.get(
    '/services',
    { schema: { tags: ['services'], security: secured, response: { 200: { type: 'object', properties: { items: { type: 'array', items: s.serviceResource } } } } } },
    async () => ({ items: await listServices(db) }),
  );

  app.get<ServiceParams>(
    '/services/:id',
    { schema: { tags: ['services'], security: secured, params: s.serviceParams, response: { 200: s.serviceResource, ...problems } } },
    async (request) => getService(db, request.params.id),
  );

  app.patch<ServiceParams & { Body: ServicePatch }>(
    '/services/:id',
    { bodyLimit: ADMIN_BODY_LIMIT, schema: { tags: ['services'], security: secured, params: s.serviceParams, body: s.patchServiceBody, response: { 200: s.serviceResource, ...problems } } },
    async (request) => updateService(db, request.params.id, request.body, actor(request)),
  );

  app.delete<ServiceParams>(
    '/services/:id',
    { schema: { tags: ['services'], security: secured, params: s.serviceParams, response: { 204: { type: 'null' }, ...problems } } },
    async (request, reply) => {
      await deleteService(db, request.params.id, actor(request));
      return reply.status(204).send();
    },
  );

  // Signing keys (public parts only)
  app.get('/keys', { schema: { tags: ['keys'], security: secured, response: { 200: s.keysResponse } } }, async () => ({
    items: await listSigningKeys(db),
  }));

  app.post('/keys/rotate', { schema: { tags: ['keys'], security: secured, response: { 200: s.keysResponse, ...problems } } }, async (request) => {
    const { config } = portier;
    const kid = await rotateSigningKey(db, config.signingAlg, config.keyEncryptionKey, config.accessTokenTtl, actor(request));
    request.log.info({ kid, actor: request.admin.clientId }, 'signing key rotated');
    return { items: await listSigningKeys(db) };
  });

  // Audit trail
  app.get<{ Querystring: AuditFilters & { limit?: number; cursor?: string } }>(
    '/audit-events',
    { schema: { tags: ['audit'], security: secured, querystring: s.auditQuery, response: { 200: s.auditPage, ...problems } } },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      return listAuditEvents(db, filters, { limit, cursor });
    },
  );
}
