/**
 * Every path of the OAuth endpoints, written once: the routes listen on them, discovery
 * publishes them, a DPoP proof's `htu` and a client assertion's `aud` name the token URL.
 */
export const OAUTH_PATHS = {
  token: '/oauth/token',
  introspection: '/oauth/introspect',
  revocation: '/oauth/revoke',
} as const;

/** The prefix every OAuth endpoint shares (its not-found and 405 answers are RFC 6749 bodies too). */
export const OAUTH_PREFIX = '/oauth';

/** The public key set and the RFC 8414 / OpenID discovery documents. */
export const WELL_KNOWN_PATHS = {
  jwks: '/.well-known/jwks.json',
  authorizationServer: '/.well-known/oauth-authorization-server',
  openidConfiguration: '/.well-known/openid-configuration',
} as const;

/** The absolute URL of an OAuth endpoint under `issuer`. */
export function endpointUrl(issuer: string, endpoint: keyof typeof OAUTH_PATHS): string {
  return `${issuer}${OAUTH_PATHS[endpoint]}`;
}

/**
 * The token endpoint's URL: what discovery publishes, what a DPoP proof's `htu` must name
 * and what a client assertion's `aud` may name (besides the issuer).
 */
export function tokenEndpointUrl(issuer: string): string {
  return endpointUrl(issuer, 'token');
}

/**
 * Every URL of the token endpoint a client may name in a DPoP proof's `htu` or an
 * assertion's `aud`: the issuer's, and the mTLS alias where discovery publishes one (RFC
 * 8705 §5: a certificate client calls the alias, and a proof or assertion it makes names
 * the URL it calls).
 */
export function tokenEndpointUrls(issuer: string, mtlsAlias: string | undefined): string[] {
  return mtlsAlias === undefined ? [tokenEndpointUrl(issuer)] : [tokenEndpointUrl(issuer), tokenEndpointUrl(mtlsAlias)];
}
