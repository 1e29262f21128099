import type { FastifyInstance } from 'fastify';
import { databaseErrorKind } from '../db/errors.js';

/**
 * GET /healthz (the process answers) and GET /readyz (and the database does too): on the
 * public port always, and on the management port when there is one, so that probes and
 * load balancers can use either.
 */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { database, repeatedLog } = app.portier;
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await database.ping();
      return { status: 'ready' };
    } catch (error) {
      repeatedLog.warn(`readyz: ${databaseErrorKind(error)}`, {}, 'database not reachable');
      return reply.status(503).send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
