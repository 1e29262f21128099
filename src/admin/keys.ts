import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorDisplayName } from '../audit/events.js';
import { emergencyRotation, requestRotation, toRotationResponse } from '../keys/rotation.js';
import { rotationSettings } from '../keys/settings.js';
import { listSigningKeys } from '../keys/signing-keys.js';
import * as keys from '../schemas/keys.js';
import { ADMIN_BODY_LIMIT, actor, inArea, problems, secured } from './route-options.js';

/** /admin/keys: the signing keys (public parts only) and their rotation (src/keys/). */
export const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;
  inArea(app, 'keys');

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
        { kid: outcome.kid, status: outcome.status, withdrawn: outcome.withdrawn, actor: actorDisplayName(actor(request)) },
        request.body?.emergency === true ? 'emergency key rotation' : 'signing key rotation',
      );
      return reply.status(outcome.status === 'active' ? 200 : 202).send(toRotationResponse(outcome, await listSigningKeys(db)));
    },
  );
};
