import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorDisplayName } from '../audit/events.js';
import { bringForward, emergencyRotation, type RotationOutcome, requestRotation, toRotationResponse } from '../keys/rotation.js';
import { rotationSettings } from '../keys/settings.js';
import { listSigningKeys } from '../keys/signing-keys.js';
import { ValidationError } from '../lib/errors.js';
import * as keys from '../schemas/keys.js';
import { ADMIN_BODY_LIMIT, actor, inArea, problems, secured } from './route-options.js';

/** /admin/keys: the signing keys (public parts only), their rotation, and bringing a next key forward (src/keys/). */
export const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { portier } = app;
  const { db } = portier;
  inArea(app, 'keys');
  const now = () => new Date(portier.clock());

  app.get('/keys', { schema: { tags: ['keys'], security: secured, response: { 200: keys.keysResponse } } }, async () => ({
    items: await listSigningKeys(db),
  }));

  /** 200 when `kid` signs from now on, 202 when it is published and signs at activates_at. */
  const answer = async (outcome: RotationOutcome) => ({
    status: outcome.status === 'active' ? (200 as const) : (202 as const),
    body: toRotationResponse(outcome, await listSigningKeys(db)),
  });
  const rotationResponses = { 200: keys.rotationResponse, 202: keys.rotationResponse, ...problems };

  app.post(
    '/keys/rotate',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: { tags: ['keys'], security: secured, body: keys.rotateBody, response: rotationResponses },
    },
    async (request, reply) => {
      const emergency = request.body?.emergency === true;
      const activateAfter = request.body?.activate_after;
      if (emergency && activateAfter !== undefined) {
        throw new ValidationError([
          { path: '/activate_after', message: 'an emergency rotation switches at once: leave activate_after out' },
        ]);
      }
      const settings = rotationSettings(portier.config);
      const outcome = emergency
        ? await emergencyRotation(portier.database, settings, now(), actor(request))
        : await requestRotation(portier.database, settings, now(), actor(request), { activateAfter });
      request.log.info(
        { kid: outcome.kid, status: outcome.status, withdrawn: outcome.withdrawn, actor: actorDisplayName(actor(request)) },
        emergency ? 'emergency key rotation' : 'signing key rotation',
      );
      const { status, body } = await answer(outcome);
      return reply.status(status).send(body);
    },
  );

  app.post(
    '/keys/:kid/activate',
    {
      bodyLimit: ADMIN_BODY_LIMIT,
      schema: { tags: ['keys'], security: secured, params: keys.kidParams, body: keys.activateBody, response: rotationResponses },
    },
    async (request, reply) => {
      const at = request.body?.at;
      const outcome = await bringForward(
        portier.database,
        rotationSettings(portier.config),
        request.params.kid,
        at === undefined ? undefined : new Date(at),
        now(),
        actor(request),
      );
      request.log.info(
        {
          kid: outcome.kid,
          status: outcome.status,
          activates_at: outcome.activatesAt.toISOString(),
          actor: actorDisplayName(actor(request)),
        },
        'signing key brought forward',
      );
      const { status, body } = await answer(outcome);
      return reply.status(status).send(body);
    },
  );
};
