import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listAuditEvents } from '../audit/list.js';
import * as audit from '../schemas/audit.js';
import { problems, secured } from './route-options.js';

/** /admin/audit-events: who did what, and refused token requests (src/audit/). */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.portier;

  app.get(
    '/audit-events',
    { schema: { tags: ['audit'], security: secured, querystring: audit.auditQuery, response: { 200: audit.auditPage, ...problems } } },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      return listAuditEvents(db, filters, { limit, cursor });
    },
  );
};
