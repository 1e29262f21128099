import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../config.js';
// The max-age is part of the rotation rule (a new key is published this long, plus a margin, before it signs).
import { JWKS_MAX_AGE_SECONDS } from '../keys/publication.js';
import { CERTIFICATE_AUTH_METHODS } from '../schemas/enums.js';
import { ASSERTION_SIGNING_ALGS, CLIENT_ASSERTION_TYPE } from './client-auth/client-assertion.js';
import { DPOP_SIGNING_ALGS } from './dpop.js';
import { endpointUrl, tokenEndpointUrl, WELL_KNOWN_PATHS } from './endpoints.js';
import { SUPPORTED_GRANT_TYPES } from './token.js';

const DISCOVERY_MAX_AGE_SECONDS = 3600;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/**
 * Portier's own member (RFC 8414 §2 lets a server add members): how a federated client
 * authenticates. On the wire it is private_key_jwt's form (RFC 7523 §2.2: client_assertion
 * and client_assertion_type, with the algorithms of token_endpoint_auth_signing_alg_values_supported),
 * but the assertion is the JWT the workload's platform issued (a trusted issuer's), not one
 * the client signed; client_id is optional. No registered method name says that, so a client
 * learns it here: the assertion types a platform's JWT may be sent as.
 */
export const FEDERATED_ASSERTION_TYPES_MEMBER = 'portier_federated_client_assertion_types_supported';

/**
 * RFC 8414 authorization server metadata. Without `response_types_supported`: RFC 8414 §2
 * marks it REQUIRED, but response types are answers of an authorization endpoint, and this
 * server has none, so nothing true can be listed; the OAuth working group's advice for such
 * a server (the OpenID4VCI pre-authorized-code case) is to omit it. An empty list, which we
 * served before, is what Authlib's AuthorizationServerMetadata.validate() rejected; it
 * rejects an absent one alike (it wants a non-empty list), but Authlib's clients do not
 * call it when they load the document.
 */
export function serverMetadata(issuer: string, scopes: string[], mtls: MutualTls = NO_MUTUAL_TLS) {
  const methods = mtls.certificates ? [...AUTH_METHODS, ...CERTIFICATE_AUTH_METHODS] : [...AUTH_METHODS];
  return {
    issuer,
    token_endpoint: tokenEndpointUrl(issuer),
    jwks_uri: `${issuer}${WELL_KNOWN_PATHS.jwks}`,
    grant_types_supported: [...SUPPORTED_GRANT_TYPES],
    token_endpoint_auth_methods_supported: methods,
    // The algorithms a private_key_jwt assertion may use: the verifier's own list.
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    introspection_endpoint: endpointUrl(issuer, 'introspection'),
    introspection_endpoint_auth_methods_supported: [...methods],
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    revocation_endpoint: endpointUrl(issuer, 'revocation'),
    revocation_endpoint_auth_methods_supported: [...methods],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    scopes_supported: scopes,
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    [FEDERATED_ASSERTION_TYPES_MEMBER]: [CLIENT_ASSERTION_TYPE],
    // RFC 8705 §3.3 and §5: only where a certificate can reach Portier at all.
    ...(mtls.certificates && { tls_client_certificate_bound_access_tokens: true }),
    ...(mtls.certificates &&
      mtls.baseUrl !== undefined && {
        mtls_endpoint_aliases: {
          token_endpoint: tokenEndpointUrl(mtls.baseUrl),
          introspection_endpoint: endpointUrl(mtls.baseUrl, 'introspection'),
          revocation_endpoint: endpointUrl(mtls.baseUrl, 'revocation'),
        },
      }),
  };
}

/** What discovery says of client certificates. */
export interface MutualTls {
  /** A client certificate can reach Portier: TLS_CLIENT_CA_FILE (Portier asks for one) or CLIENT_CERT_HEADER (a proxy passes it on). */
  certificates: boolean;
  /** MTLS_BASE_URL. */
  baseUrl: string | undefined;
}

const NO_MUTUAL_TLS: MutualTls = { certificates: false, baseUrl: undefined };

/** What the configuration makes of client certificates, for discovery. */
export function mutualTls(config: Pick<Config, 'tls' | 'clientCertHeader' | 'mtlsBaseUrl' | 'spiffeTrustBundles'>): MutualTls {
  const asked = config.tls !== undefined && (config.tls.clientCaFile !== undefined || config.spiffeTrustBundles !== undefined);
  return { certificates: asked || config.clientCertHeader !== undefined, baseUrl: config.mtlsBaseUrl };
}

/**
 * The same metadata at /.well-known/openid-configuration, for libraries that look only
 * there. OpenID Connect Discovery 1.0 §3 requires `response_types_supported` in that
 * document, so it is present, with the one true value: none (no authorization endpoint).
 * The document is no OpenID Provider's (there are no ID tokens), and OpenID-specific
 * validators refuse it for other required members anyway.
 */
export function openidConfiguration(issuer: string, scopes: string[], mtls: MutualTls = NO_MUTUAL_TLS) {
  return { ...serverMetadata(issuer, scopes, mtls), response_types_supported: [] as string[] };
}

export async function wellKnownRoutes(app: FastifyInstance): Promise<void> {
  const { portier } = app;

  app.get(WELL_KNOWN_PATHS.jwks, async (_request, reply) => {
    const { jwks } = await portier.keys.get();
    return reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).send(jwks);
  });

  const mtls = mutualTls(portier.config);
  const document = (build: typeof serverMetadata) => async (_request: unknown, reply: FastifyReply) => {
    const scopes = await portier.scopeCatalogue.get();
    return reply.header('cache-control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`).send(build(portier.config.issuer, scopes, mtls));
  };
  app.get(WELL_KNOWN_PATHS.authorizationServer, document(serverMetadata));
  app.get(WELL_KNOWN_PATHS.openidConfiguration, document(openidConfiguration));
}
