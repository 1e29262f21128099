import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listEvents } from '../events/list.js';
import * as events from '../schemas/events.js';
import { inArea, problems, secured } from './route-options.js';

/**
 * /admin/events: every audit event as a CloudEvent, oldest first, by cursor, for a system
 * that pulls (src/events/). For admins and auditors (admin:read); operators, who see only
 * their own clients' trail, are refused (people/scope.ts).
 */
export const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app.portier;
  inArea(app, 'events');

  app.get(
    '/events',
    { schema: { tags: ['events'], security: secured, querystring: events.eventsQuery, response: { 200: events.eventsPage, ...problems } } },
    async (request) => listEvents(db, config.issuer, request.query, { now: app.portier.clock(), maxHoldMs: config.eventsMaxHold * 1000 }),
  );
};
