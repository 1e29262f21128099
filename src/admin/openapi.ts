import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { CookieNames } from '../people/cookies.js';

/**
 * The OpenAPI document, generated from the route schemas (/docs/json), and a browsable
 * UI at /docs. Registered before the routes so that it sees all of them.
 */
export const openApi = fp(async (app: FastifyInstance, options: { issuer: string }) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Portier',
        description: 'OAuth 2.0 client-credentials authorization server: token endpoint and admin API.',
        version: '0.1.0',
      },
      servers: [{ url: options.issuer }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token from POST /oauth/token for the portier-admin service (scope admin:read or admin:write).',
          },
          consoleSession: {
            type: 'apiKey',
            in: 'cookie',
            name: new CookieNames(new URL(options.issuer).protocol === 'https:').session,
            description:
              "A person's console session, after signing in through the organisation's identity provider (GET /console/auth/login). " +
              "A change made with it must carry Portier's own Origin.",
          },
        },
      },
      tags: [
        { name: 'clients', description: 'API clients and their secrets' },
        { name: 'services', description: 'The catalogue of services clients are granted' },
        { name: 'trusted issuers', description: 'Platforms whose JWTs federated clients sign in with' },
        { name: 'keys', description: 'Token signing keys (public parts only)' },
        { name: 'audit', description: 'Who did what, and refused token requests' },
        { name: 'config', description: 'Configuration as code: export and apply services and clients as one document' },
        { name: 'sessions', description: "People's console sessions" },
        { name: 'events', description: 'Every audit event as a CloudEvent, by cursor' },
        { name: 'webhooks', description: "Events delivered, signed, to the organisation's systems" },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
