import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  createTrustedIssuer,
  deleteTrustedIssuer,
  getTrustedIssuer,
  listTrustedIssuers,
  updateTrustedIssuer,
} from '../federation/trusted-issuers.js';
import * as issuers from '../schemas/trusted-issuers.js';
import { ADMIN_BODY_LIMIT, actor, inArea, noContent, problems, secured } from './route-options.js';

/** /admin/trusted-issuers: the platforms federated clients sign in with (src/federation/). */
export const trustedIssuerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.portier;
  const tags = ['trusted issuers'];
  inArea(app, 'trusted-issuers');

  app.post(
    '/trusted-issuers',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags,
        security: secured,
        body: issuers.createTrustedIssuerBody,
        response: { 201: issuers.trustedIssuerResource, ...problems },
      },
    },
    async (request, reply) => reply.status(201).send(await createTrustedIssuer(db, request.body, actor(request))),
  );

  app.get(
    '/trusted-issuers',
    { schema: { tags, security: secured, response: { 200: issuers.trustedIssuerList, ...problems } } },
    async () => ({
      items: await listTrustedIssuers(db),
    }),
  );

  app.get(
    '/trusted-issuers/:id',
    {
      schema: {
        tags,
        security: secured,
        params: issuers.trustedIssuerParams,
        response: { 200: issuers.trustedIssuerResource, ...problems },
      },
    },
    async (request) => getTrustedIssuer(db, request.params.id),
  );

  app.patch(
    '/trusted-issuers/:id',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags,
        security: secured,
        params: issuers.trustedIssuerParams,
        body: issuers.patchTrustedIssuerBody,
        response: { 200: issuers.trustedIssuerResource, ...problems },
      },
    },
    async (request) => updateTrustedIssuer(db, request.params.id, request.body, actor(request)),
  );

  app.delete(
    '/trusted-issuers/:id',
    { schema: { tags, security: secured, params: issuers.trustedIssuerParams, response: { 204: noContent, ...problems } } },
    async (request, reply) => {
      await deleteTrustedIssuer(db, request.params.id, actor(request));
      return reply.status(204).send();
    },
  );
};
