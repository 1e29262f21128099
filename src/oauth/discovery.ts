import type { FastifyInstance } from 'fastify';
// The max-age is part of the rotation rule (a new key is published this long, plus a margin, before it signs).
import { JWKS_MAX_AGE_SECONDS } from '../keys/publication.js';
import { ASSERTION_SIGNING_ALGS } from './client-auth/client-assertion.js';
import { DPOP_SIGNING_ALGS } from './dpop.js';
import { endpointUrl, tokenEndpointUrl, WELL_KNOWN_PATHS } from './endpoints.js';
import { SUPPORTED_GRANT_TYPES } from './token.js';

const DISCOVERY_MAX_AGE_SECONDS = 3600;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/** RFC 8414 authorization server metadata (also served as openid-configuration). */
export function serverMetadata(issuer: string, scopes: string[]) {
  return {
    issuer,
    token_endpoint: tokenEndpointUrl(issuer),
    jwks_uri: `${issuer}${WELL_KNOWN_PATHS.jwks}`,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    // The algorithms a private_key_jwt assertion may use: the verifier's own list.
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    introspection_endpoint: endpointUrl(issuer, 'introspection'),
    introspection_endpoint_auth_methods_supported: [...AUTH_METHODS],
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    revocation_endpoint: endpointUrl(issuer, 'revocation'),
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    // This server has no authorization endpoint, so it supports no response types.
    response_types_supported: [] as string[],
    scopes_supported: scopes,
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
  };
}

export async function wellKnownRoutes(app: FastifyInstance): Promise<void> {
  const { portier } = app;

  app.get(WELL_KNOWN_PATHS.jwks, async (_request, reply) => {
    const { jwks } = await portier.keys.get();
    return reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).send(jwks);
  });

  const metadata = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const scopes = await portier.scopeCatalogue.get();
    return reply
      .header('cache-control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`)
      .send(serverMetadata(portier.config.issuer, scopes));
  };
  app.get(WELL_KNOWN_PATHS.authorizationServer, metadata);
  app.get(WELL_KNOWN_PATHS.openidConfiguration, metadata);
}
