/**
 * The token endpoint's URL: what discovery publishes, what a DPoP proof's `htu` must name
 * and what a client assertion's `aud` may name (besides the issuer).
 */
export function tokenEndpointUrl(issuer: string): string {
  return `${issuer}/oauth/token`;
}
