import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { Actor } from '../audit/events.js';
import { actorOf } from '../people/principal.js';
import type { AdminArea } from '../people/scope.js';
import { problemResponse } from '../schemas/common.js';

/** Admin bodies are small JSON documents; 256 KiB is generous and bounds validation work. */
export const ADMIN_BODY_LIMIT = 256 * 1024;

/** The error answers every admin route may give, for its schema and the OpenAPI document. */
export const problems = { 400: problemResponse, 401: problemResponse, 403: problemResponse, 404: problemResponse, 409: problemResponse };

/** Every admin route needs a bearer token, or a person's console session (OpenAPI's security requirement). */
export const secured: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { consoleSession: [] }];

/** Puts every route the plugin `app` registers from now on into `area` (see people/scope.ts). */
export function inArea(app: FastifyInstance, area: AdminArea): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, adminArea: area };
  });
}

/** A 204: nothing in the body. */
export const noContent = Type.Unsafe<void>({ type: 'null', description: 'No content' });

/** Who made a request, as the audit trail records them: the authenticated admin or person, and their address. */
export function actor(request: FastifyRequest): Actor {
  return actorOf(request.principal, request.ip);
}
