import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { listAuditEvents } from '../audit/store.js';
import { clientVisibilityOf } from '../people/scope.js';
import * as audit from '../schemas/audit.js';
import { inArea, problems, secured } from './route-options.js';

/** /admin/audit-events: who did what, and refused token requests (src/audit/); for operators, about their clients. */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app.portier;
  inArea(app, 'audit');

  app.get(
    '/audit-events',
    { schema: { tags: ['audit'], security: secured, querystring: audit.auditQuery, response: { 200: audit.auditPage, ...problems } } },
    async (request) => {
      const { limit, cursor, ...filters } = request.query;
      return listAuditEvents(db, filters, { limit, cursor }, clientVisibilityOf(request.principal));
    },
  );
};
