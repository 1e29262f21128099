import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listDeliveries, redeliver, sendTestEvent } from '../events/delivery-admin.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listWebhooks,
  regenerateWebhookSecret,
  updateWebhook,
  type WebhookSettings,
} from '../events/webhooks.js';
import * as hooks from '../schemas/webhooks.js';
import { ADMIN_BODY_LIMIT, actor, inArea, noContent, problems, secured } from './route-options.js';

/** /admin/webhooks: where events are delivered, signed, and how each delivery went (src/events/). Admins only. */
export const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app.portier;
  const tags = ['webhooks'];
  // Read when a request comes, as every route reads app.portier.
  const settings = (): WebhookSettings => ({ allowPrivate: config.webhooks.allowPrivate, keyEncryptionKey: config.keyEncryptionKey });
  inArea(app, 'events');

  app.post(
    '/webhooks',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: { tags, security: secured, body: hooks.createWebhookBody, response: { 201: hooks.webhookWithSecret, ...problems } },
    },
    async (request, reply) => reply.status(201).send(await createWebhook(db, request.body, actor(request), settings())),
  );

  app.get('/webhooks', { schema: { tags, security: secured, response: { 200: hooks.webhookList, ...problems } } }, async () => ({
    items: await listWebhooks(db),
  }));

  app.get(
    '/webhooks/:id',
    { schema: { tags, security: secured, params: hooks.webhookParams, response: { 200: hooks.webhookResource, ...problems } } },
    async (request) => getWebhook(db, request.params.id),
  );

  app.patch(
    '/webhooks/:id',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags,
        security: secured,
        params: hooks.webhookParams,
        body: hooks.updateWebhookBody,
        response: { 200: hooks.webhookResource, ...problems },
      },
    },
    async (request) => updateWebhook(db, request.params.id, request.body, actor(request), settings()),
  );

  app.delete(
    '/webhooks/:id',
    { schema: { tags, security: secured, params: hooks.webhookParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await deleteWebhook(db, request.params.id, actor(request));
      return reply.status(204).send();
    },
  );

  app.post(
    '/webhooks/:id/secret',
    { schema: { tags, security: secured, params: hooks.webhookParams, response: { 200: hooks.webhookSecret, ...problems } } },
    async (request) => regenerateWebhookSecret(db, request.params.id, actor(request), settings()),
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        security: secured,
        params: hooks.webhookParams,
        querystring: hooks.deliveriesQuery,
        response: { 200: hooks.deliveryPage, ...problems },
      },
    },
    async (request) => listDeliveries(db, request.params.id, request.query),
  );

  app.post(
    '/webhooks/:id/deliveries/:delivery_id/redeliver',
    { schema: { tags, security: secured, params: hooks.deliveryParams, response: { 202: hooks.deliveryResource, ...problems } } },
    async (request, reply) => reply.status(202).send(await redeliver(db, request.params.id, request.params.delivery_id, actor(request))),
  );

  app.post(
    '/webhooks/:id/test',
    { schema: { tags, security: secured, params: hooks.webhookParams, response: { 202: hooks.deliveryResource, ...problems } } },
    async (request, reply) => reply.status(202).send(await sendTestEvent(db, request.params.id, actor(request))),
  );
};
