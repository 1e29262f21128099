// The generated types directly, with '.js': this pure module is also compiled with the
// tests (node16 resolution), which test it without a browser.
import type { paths } from '../generated/admin-api.js';

type Client = paths['/admin/clients/{client_id}']['get']['responses'][200]['content']['application/json'];
/** A platform identity of a federated client, as the API takes it. */
type FederatedIdentity = NonNullable<
  NonNullable<paths['/admin/clients']['post']['requestBody']>['content']['application/json']['federated_identities']
>[number];

/** The pure part of the identities editor: its rows, and the identities they make. */

/** One identity as the editor holds it: claims as text, one `name=value` per line. */
export interface IdentityRow {
  issuer: string;
  subject: string;
  claims: string;
}

export function identityRows(identities: Client['federated_identities']): IdentityRow[] {
  return identities.map((identity) => ({
    issuer: identity.issuer,
    subject: identity.subject,
    claims: Object.entries(identity.claims)
      .map(([name, value]) => `${name}=${String(value)}`)
      .join('\n'),
  }));
}

/**
 * The identities the rows make, or the first line of claims that is not `name=value`. A
 * claim's value is text (the console does not send numbers or booleans; the API and CLI do).
 */
export function identitiesFromRows(rows: IdentityRow[]): { ok: true; identities: FederatedIdentity[] } | { ok: false; error: string } {
  const identities: FederatedIdentity[] = [];
  for (const [i, row] of rows.entries()) {
    const claims: Record<string, string> = {};
    for (const line of row.claims.split('\n').map((text) => text.trim())) {
      if (line === '') continue;
      const equals = line.indexOf('=');
      if (equals <= 0) return { ok: false, error: `identity ${i + 1}: "${line}" is not name=value` };
      claims[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
    }
    identities.push({ issuer: row.issuer, subject: row.subject.trim(), ...(Object.keys(claims).length > 0 && { claims }) });
  }
  return { ok: true, identities };
}

/** How the console names a client's way of authenticating. */
export function authMethodLabel(method: Client['auth_method']): string {
  if (method === 'client_secret') return 'client secret';
  if (method === 'private_key_jwt') return 'private key JWT';
  if (method === 'tls_client_auth') return 'TLS client certificate (tls_client_auth)';
  if (method === 'self_signed_tls_client_auth') return 'self-signed TLS client certificate';
  return 'platform identities (federated)';
}
