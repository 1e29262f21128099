import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { addCredential, credentialSettings, listCredentials, removeCredential, revokeLeaked } from '../clients/credentials.js';
import { clientVisibilityOf } from '../people/scope.js';
import * as clients from '../schemas/clients.js';
import * as credentials from '../schemas/credentials.js';
import { ADMIN_BODY_LIMIT, actor, inArea, noContent, problems, secured } from './route-options.js';

/**
 * /admin/clients/{id}/credentials: a client's secrets and public keys, each a record of its
 * own (clients/credentials.ts). Each call gets the caller's scope (people/scope.ts):
 * operators manage the credentials of their own clients, within the same limits.
 */
export const credentialRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db, config } = portier;
  const settings = credentialSettings(config);
  inArea(app, 'clients');

  app.get(
    '/clients/:client_id/credentials',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        params: clients.clientParams,
        response: { 200: credentials.credentialList, ...problems },
      },
    },
    async (request) => ({
      credentials: await listCredentials(db, request.params.client_id, portier.clock(), clientVisibilityOf(request.principal), settings),
    }),
  );

  app.post(
    '/clients/:client_id/credentials',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['clients'],
        security: secured,
        description: `At most MAX_CREDENTIALS_PER_CLIENT live credentials (${config.maxCredentialsPerClient} here): one more is 409.`,
        params: clients.clientParams,
        body: credentials.newCredentialBody,
        response: { 201: credentials.addedCredential, ...problems },
      },
    },
    async (request, reply) => {
      const { credential, secret } = await addCredential(
        db,
        request.params.client_id,
        request.body,
        actor(request),
        portier.clock(),
        settings,
        clientVisibilityOf(request.principal),
      );
      return reply.status(201).send(secret === undefined ? credential : { ...credential, secret });
    },
  );

  app.delete(
    '/clients/:client_id/credentials/:credential_id',
    {
      schema: {
        tags: ['clients'],
        security: secured,
        description: 'Refused from the next request on, on every instance within a second.',
        params: credentials.credentialParams,
        response: { 204: noContent, ...problems },
      },
    },
    async (request, reply) => {
      await removeCredential(
        db,
        request.params.client_id,
        request.params.credential_id,
        actor(request),
        portier.clock(),
        clientVisibilityOf(request.principal),
      );
      return reply.status(204).send();
    },
  );
};

/**
 * POST /admin/credentials/revoke-leaked: for a secret scanner (GitHub's secret scanning
 * partner program sends this shape) or an admin who found secrets in public. Admins only:
 * it is in no area operators reach (see people/scope.ts).
 */
export const leakedCredentialRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  app.post(
    '/credentials/revoke-leaked',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: {
        tags: ['clients'],
        security: secured,
        description:
          'Revokes the credentials whose secrets are listed (`[{"token", "type", "url", "source"}]`, as GitHub secret scanning sends them), at once, audited as credential.leaked. Each token gets an outcome; none is echoed.',
        body: credentials.leakedTokensBody,
        response: { 200: credentials.leakedTokensResponse, ...problems },
      },
    },
    async (request) => ({
      results: await revokeLeaked(portier.db, request.body, actor(request), portier.clock(), portier.config.secretPrefix),
    }),
  );
};
